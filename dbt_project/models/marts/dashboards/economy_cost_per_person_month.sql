{#-
    Cost per person-month by year, department and target group (dashboard Omkostninger og
    datadækning): the resident person-months of the target group in the year (`alle` = every
    resident person-month in fct_person_month) and the department's cost of those months
    (cost_total_<department>: direct + imputed), so cost_per_person_month is what one month of
    a citizen in the group costs the department on average. Fewer than 5 persons hide the
    row's measures.
-#}
{{ config(pre_hook="{{ big_work_mem() }}") }}
{%- set departments = seed_rows('departments', where='is_cost_department', order_by='sort_order') %}

with

person_months as (

    select * from {{ ref('fct_person_month') }}

),

years as (

    select extract(year from month)::integer as year, bool_and(is_complete) as is_complete_year
    from {{ ref('int_months') }}
    group by 1

),

memberships as (

    select
        extract(year from person_months.month)::integer                       as year,
        memberships_target_group.target_group,
        memberships_target_group.target_group_label,
        person_months.person_key,
        departments.department,
        departments.department_label,
        departments.cost
    from person_months
    {{ target_group_memberships('person_months') }}
    cross join lateral (
        values
        {%- for row in departments %}
            ('{{ row["department"] }}', '{{ row["department_label"] | replace("'", "''") }}', person_months.cost_total_{{ row["department"] }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as departments (department, department_label, cost)
    where person_months.is_resident
      and memberships_target_group.is_member

),

cells as (

    select
        year,
        department,
        department_label,
        target_group,
        target_group_label,
        count(distinct person_key)::integer                                    as persons,
        count(*)::integer                                                      as person_months,
        sum(cost)                                                              as cost_total
    from memberships
    group by 1, 2, 3, 4, 5

),

as_of as (

    select max(as_of_date) as data_as_of from {{ ref('int_months') }}

)

select
    cells.year,
    years.is_complete_year,
    cells.department,
    cells.department_label,
    cells.target_group,
    cells.target_group_label,
    ({{ suppress_small('cells.persons') }})::integer                           as persons,
    ({{ suppress_small('cells.persons', value_expr='cells.person_months') }})::integer
                                                                               as person_months,
    ({{ suppress_small('cells.persons', value_expr='round(cells.cost_total, 2)') }})::numeric(16, 2)
                                                                               as cost_total,
    ({{ suppress_small('cells.persons', value_expr='round(cells.cost_total / cells.person_months, 2)') }})::numeric(16, 2)
                                                                               as cost_per_person_month,
    {{ is_small_cell('cells.persons') }}                                       as is_suppressed,
    as_of.data_as_of
from cells
inner join years
    on cells.year = years.year
cross join as_of
