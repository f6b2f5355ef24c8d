{#-
    Direct cost: ledger postings that carry the recipient's CPR (registrantbogført), spread
    over the period they cover, per person, month, kontoplan function and department:
    direct_cost from operating postings (dranst 1) and direct_refunds from state refunds
    posted with the CPR (dranst 2, signed: a refund received is negative); each is null when
    the person has no posting of that kind on the function in the month. Construction and
    other dranst are never person cost, even with a CPR.
    Incremental by month like its inputs (macros/incremental.sql).
-#}
{{ config(**incremental_by_month_config(drop_months_before_window=false)) }}

{%- set batch_start = incremental_batch_start(entities=ledger_entities()) %}
with

ledger as (

    select * from {{ ref('int_ledger_postings_spread_to_months') }}
    where recipient_person_key is not null
      and cost_kind in ('operating', 'refund')
      and {{ in_batch('month', batch_start) }}

)

select
    recipient_person_key                                                     as person_key,
    month,
    kontoplan_function,
    department,
    (sum(amount) filter (where cost_kind = 'operating'))::numeric(16, 2)  as direct_cost,
    (sum(amount) filter (where cost_kind = 'refund'))::numeric(16, 2)     as direct_refunds
from ledger
group by 1, 2, 3, 4
