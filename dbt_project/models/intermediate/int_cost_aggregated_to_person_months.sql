{#-
    Attributed cost per person and month on the attribution basis (var
    cost_attribution_basis, int_attributed_cost_by_person_function_monthly): direct (ledger
    postings with the person's CPR) and imputed (activity x unit price; on the net basis
    also the apportioned refunds), in total and per cost department (one
    cost_direct_/cost_imputed_/cost_total_<department> column per row of the departments
    seed with is_cost_department). Keyed by person_id (macro person_id). Incremental by month
    like int_person_months.
-#}
{{ config(**incremental_by_month_config(drop_months_before_window=false)) }}

{%- set batch_start = incremental_batch_start() -%}
{%- set cost_departments = seed_values('departments', 'department', where='is_cost_department') %}

with

attributed as (

    select * from {{ ref('int_attributed_cost_by_person_function_monthly') }}
    where {{ in_batch('month', batch_start) }}

),

months as (

    select max(as_of_date) as as_of_date from {{ ref('int_months') }}

),

unioned as (

    select {{ person_id('person_key') }} as person_id, month, department, direct_cost, imputed_cost
    from attributed

),

per_department as (

    select
        person_id,
        month
        {%- for department in cost_departments %},
        coalesce(sum(direct_cost) filter (where department = '{{ department }}'), 0)   as cost_direct_{{ department }},
        coalesce(sum(imputed_cost) filter (where department = '{{ department }}'), 0)  as cost_imputed_{{ department }}
        {%- endfor %}
    from unioned
    group by person_id, month

)

select
    per_department.person_id,
    per_department.month,
    months.as_of_date,
    (0 {%- for department in cost_departments %} + cost_direct_{{ department }}{% endfor %})::numeric(16, 2)
                                                             as cost_direct,
    (0 {%- for department in cost_departments %} + cost_imputed_{{ department }}{% endfor %})::numeric(16, 2)
                                                             as cost_imputed,
    (0 {%- for department in cost_departments %} + cost_direct_{{ department }} + cost_imputed_{{ department }}{% endfor %})::numeric(16, 2)
                                                             as cost_total
    {%- for department in cost_departments %},
    cost_direct_{{ department }}::numeric(16, 2)             as cost_direct_{{ department }},
    cost_imputed_{{ department }}::numeric(16, 2)            as cost_imputed_{{ department }},
    (cost_direct_{{ department }} + cost_imputed_{{ department }})::numeric(16, 2)
                                                             as cost_total_{{ department }}
    {%- endfor %}
from per_department
cross join months
