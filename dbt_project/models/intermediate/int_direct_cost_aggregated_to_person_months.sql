{#-
    Direct cost: ledger postings that carry the recipient's CPR (registrantbogført), spread
    over the period they cover, per person, month, kontoplan function and department.
-#}
with

ledger as (

    select * from {{ ref('int_ledger_postings_spread_to_months') }}
    where recipient_person_key is not null

)

select
    recipient_person_key         as person_key,
    month,
    kontoplan_function,
    department,
    sum(amount)::numeric(16, 2)  as direct_cost
from ledger
group by 1, 2, 3, 4
