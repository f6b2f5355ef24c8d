{#-
    The ledger of each department, kontoplan function and month by cost kind (dranst, seed
    kontoplan_dranst): gross operating cost (dranst 1), state refunds (dranst 2, signed, so
    a refund received is negative), net operating cost = gross + refunds, and construction
    (dranst 3, never operating cost). The operating ledger on the attribution basis
    (var cost_attribution_basis: gross operating cost, or net operating cost) is split into
    what is attributed to persons and what is not:

        ledger_amount = direct_cost + imputed_cost + unattributed_cost

    by construction, with direct and imputed cost on the same basis
    (int_attributed_cost_by_person_function_monthly). Direct cost is on the posting's
    function, imputed cost on the unit price's function; the unattributed remainder is what
    the ledger holds beyond them (overheads, administration, own operations not covered by
    unit prices, the refunds of unattributed cost, rounding) and is negative where more is
    imputed than booked. persons_attributed counts the distinct persons with a non-zero
    attributed amount on the function in the month.
    Incremental by month like its inputs (macros/incremental.sql).
-#}
{{ config(**incremental_by_month_config(drop_months_before_window=false)) }}

{%- set batch_start = incremental_batch_start(entities=cost_entities()) %}
{%- set basis = cost_attribution_basis() %}

with

ledger as (

    select
        month,
        department,
        kontoplan_function,
        coalesce(sum(amount) filter (where cost_kind = 'operating'), 0)     as gross_operating_cost,
        coalesce(sum(amount) filter (where cost_kind = 'refund'), 0)        as refunds,
        coalesce(sum(amount) filter (where cost_kind = 'construction'), 0)  as construction_cost
    from {{ ref('int_ledger_postings_spread_to_months') }}
    where cost_kind in ('operating', 'refund', 'construction')
      and {{ in_batch('month', batch_start) }}
    group by 1, 2, 3

),

attributed as (

    select
        month,
        department,
        kontoplan_function,
        sum(direct_cost)                                                    as direct_cost,
        sum(imputed_cost)                                                   as imputed_cost,
        count(*) filter (where direct_cost <> 0 or imputed_cost <> 0)       as persons_attributed
    from {{ ref('int_attributed_cost_by_person_function_monthly') }}
    where {{ in_batch('month', batch_start) }}
    group by 1, 2, 3

),

joined as (

    select
        coalesce(ledger.month, attributed.month)                            as month,
        coalesce(ledger.department, attributed.department)                  as department,
        coalesce(ledger.kontoplan_function, attributed.kontoplan_function)  as kontoplan_function,
        coalesce(ledger.gross_operating_cost, 0)                            as gross_operating_cost,
        coalesce(ledger.refunds, 0)                                         as refunds,
        coalesce(ledger.construction_cost, 0)                               as construction_cost,
        coalesce(attributed.direct_cost, 0)                                 as direct_cost,
        coalesce(attributed.imputed_cost, 0)                                as imputed_cost,
        coalesce(attributed.persons_attributed, 0)                          as persons_attributed
    from ledger
    full outer join attributed
        on  ledger.month = attributed.month
        and ledger.department = attributed.department
        and ledger.kontoplan_function = attributed.kontoplan_function

),

on_basis as (

    select
        *,
        gross_operating_cost + refunds                                      as net_operating_cost,
        {%- if basis == 'net' %}
        gross_operating_cost + refunds                                      as ledger_amount
        {%- else %}
        gross_operating_cost                                                as ledger_amount
        {%- endif %}
    from joined

)

select
    month,
    department,
    kontoplan_function,
    '{{ basis }}'::text                                           as attribution_basis,
    gross_operating_cost::numeric(16, 2)                          as gross_operating_cost,
    refunds::numeric(16, 2)                                       as refunds,
    net_operating_cost::numeric(16, 2)                            as net_operating_cost,
    construction_cost::numeric(16, 2)                             as construction_cost,
    ledger_amount::numeric(16, 2)                                 as ledger_amount,
    direct_cost::numeric(16, 2)                                   as direct_cost,
    imputed_cost::numeric(16, 2)                                  as imputed_cost,
    (ledger_amount - direct_cost - imputed_cost)::numeric(16, 2)  as unattributed_cost,
    persons_attributed::integer                                   as persons_attributed
from on_basis
