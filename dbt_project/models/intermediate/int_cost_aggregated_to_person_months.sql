{#-
    Attributed cost per person, month and (cost) department: direct (ledger postings with
    the person's CPR) and imputed (activity x unit price), each summed over the department's
    kontoplan functions.
-#}
with

direct as (

    select * from {{ ref('int_direct_cost_aggregated_to_person_months') }}

),

imputed as (

    select * from {{ ref('int_imputed_cost_aggregated_to_person_months') }}

),

unioned as (

    select person_key, month, department, direct_cost, 0::numeric as imputed_cost from direct
    union all
    select person_key, month, department, 0, imputed_cost from imputed

)

select
    person_key,
    month,
    department,
    sum(direct_cost)::numeric(16, 2)                     as cost_direct,
    sum(imputed_cost)::numeric(16, 2)                    as cost_imputed,
    (sum(direct_cost) + sum(imputed_cost))::numeric(16, 2)  as cost_total
from unioned
group by 1, 2, 3
