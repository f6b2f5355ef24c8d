{#-
    State refunds (dranst 2) booked without a CPR, apportioned to persons, per person, month,
    kontoplan function and department. Used when cost is attributed on the net basis
    (var cost_attribution_basis = net); refunds posted with a CPR are direct instead.

    The rule ("the refund follows the krone"): every krone of a function's gross operating
    cost in a month carries the same share of the function's refunds without CPR. A person
    gets

        refunds without CPR x person's attributed gross cost / greatest(gross operating
        ledger, attributed gross cost of all persons)

    on the function and month, rounded to the øre, where attributed gross cost = direct
    (operating postings with the CPR) + imputed. The part that belongs to the unattributed
    gross cost (overheads), and the øre the rounding leaves, stay unattributed, so ledger =
    direct + imputed + unattributed per department, function and month holds on the net
    basis exactly as on the gross one. Nothing is apportioned where the function has no
    positive gross cost or no attributed person in the month.
    Incremental by month like its inputs (macros/incremental.sql).
-#}
{{ config(**incremental_by_month_config(drop_months_before_window=false)) }}

{%- set batch_start = incremental_batch_start(entities=cost_entities()) %}
with

ledger as (

    select
        month,
        department,
        kontoplan_function,
        coalesce(sum(amount) filter (where cost_kind = 'operating'), 0)  as gross_operating_cost,
        coalesce(sum(amount) filter (
            where cost_kind = 'refund' and recipient_person_key is null
        ), 0)                                                           as refunds_without_cpr
    from {{ ref('int_ledger_postings_spread_to_months') }}
    where {{ in_batch('month', batch_start) }}
    group by 1, 2, 3

),

attributed_rows as (

    select person_key, month, department, kontoplan_function, direct_cost as gross_cost
    from {{ ref('int_direct_cost_aggregated_to_person_months') }}
    where direct_cost is not null and {{ in_batch('month', batch_start) }}
    union all
    select person_key, month, department, kontoplan_function, imputed_cost
    from {{ ref('int_imputed_cost_aggregated_to_person_months') }}
    where {{ in_batch('month', batch_start) }}

),

person_gross as (

    select person_key, month, department, kontoplan_function, sum(gross_cost) as gross_cost
    from attributed_rows
    group by 1, 2, 3, 4
    having sum(gross_cost) <> 0

),

function_gross as (

    select month, department, kontoplan_function, sum(gross_cost) as attributed_gross_cost
    from person_gross
    group by 1, 2, 3

),

bases as (

    select
        ledger.month,
        ledger.department,
        ledger.kontoplan_function,
        ledger.refunds_without_cpr,
        greatest(ledger.gross_operating_cost, function_gross.attributed_gross_cost)  as base
    from ledger
    inner join function_gross
        on  ledger.month = function_gross.month
        and ledger.department = function_gross.department
        and ledger.kontoplan_function = function_gross.kontoplan_function
    where ledger.refunds_without_cpr <> 0
      and greatest(ledger.gross_operating_cost, function_gross.attributed_gross_cost) > 0

)

select
    person_gross.person_key,
    person_gross.month,
    person_gross.kontoplan_function,
    person_gross.department,
    round(bases.refunds_without_cpr * person_gross.gross_cost / bases.base, 2)::numeric(16, 2)
                                                                        as apportioned_refunds
from person_gross
inner join bases
    on  person_gross.month = bases.month
    and person_gross.department = bases.department
    and person_gross.kontoplan_function = bases.kontoplan_function
