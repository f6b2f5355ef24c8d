{#-
    The ledger per month and department with the cost attributed to persons (direct and
    imputed), the unattributed remainder and the coverage ((direct + imputed) / ledger; the
    published norm is 80-90 %), for dashboards (Økonomi). persons = persons with attributed
    cost in the department in the month, null when fewer than 5; when 1-4 persons carry the
    attributed cost, every amount of the row is hidden and is_suppressed is true.
-#}
{%- set small = "(persons between 1 and " ~ (var('min_cell_size', 5) | int - 1) ~ ")" %}

with

attribution as (

    select * from {{ ref('fct_cost_attribution_monthly') }}

),

person_costs as (

    select * from {{ ref('int_cost_aggregated_to_person_months') }}

),

departments as (

    select * from {{ ref('dim_department') }}

),

{%- set cost_departments = seed_values('departments', 'department', where='is_cost_department') %}

persons_wide as (

    -- Persons with cost per department and month, one filtered count per department.
    select
        month
        {%- for department in cost_departments %},
        count(*) filter (where cost_direct_{{ department }} <> 0 or cost_imputed_{{ department }} <> 0)
                                                                  as persons_{{ department }}
        {%- endfor %}
    from person_costs
    group by month

),

persons as (

    {%- for department in cost_departments %}
    select month, '{{ department }}'::text as department, persons_{{ department }}::integer as persons
    from persons_wide
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select null::date as month, null::text as department, 0 as persons where false
    {%- endfor %}

),

aggregated as (

    select
        attribution.month,
        attribution.department,
        sum(attribution.ledger_amount)      as ledger_amount,
        sum(attribution.direct_cost)        as direct_cost,
        sum(attribution.imputed_cost)       as imputed_cost,
        sum(attribution.unattributed_cost)  as unattributed_cost
    from attribution
    group by attribution.month, attribution.department

),

joined as (

    select
        aggregated.*,
        coalesce(persons.persons, 0)  as persons,
        case when aggregated.ledger_amount <> 0 then
            round((aggregated.direct_cost + aggregated.imputed_cost) / aggregated.ledger_amount, 4)
        end                           as coverage
    from aggregated
    left join persons
        on  aggregated.month = persons.month
        and aggregated.department = persons.department

)

select
    joined.month,
    joined.department,
    departments.department_label,
    (case when not {{ small }} then joined.ledger_amount end)::numeric(16, 2)      as ledger_amount,
    (case when not {{ small }} then joined.direct_cost end)::numeric(16, 2)        as direct_cost,
    (case when not {{ small }} then joined.imputed_cost end)::numeric(16, 2)       as imputed_cost,
    (case when not {{ small }} then joined.unattributed_cost end)::numeric(16, 2)  as unattributed_cost,
    (case when not {{ small }} then joined.coverage end)::numeric(10, 4)           as coverage,
    ({{ suppress_small('joined.persons') }})::integer                              as persons,
    {{ small }}                                                                   as is_suppressed
from joined
left join departments
    on joined.department = departments.department
