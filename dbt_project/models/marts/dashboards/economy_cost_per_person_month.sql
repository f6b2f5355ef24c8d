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

{#- One row per person, year and target group first (the costs summed per department), and the
    departments unpivoted only after the persons are counted: persons and person-months do not
    depend on the department, so counting them once per group is the same count, without a
    count(distinct) over person-months x target groups x departments. -#}
person_years as (

    select
        extract(year from person_months.month)::integer                       as year,
        memberships_target_group.target_group,
        memberships_target_group.target_group_label,
        person_months.person_key,
        count(*)                                                               as person_months
        {%- for row in departments %},
        sum(person_months.cost_total_{{ row["department"] }})                  as cost_{{ row["department"] }}
        {%- endfor %}
    from person_months
    {{ target_group_memberships('person_months') }}
    where person_months.is_resident
      and memberships_target_group.is_member
    group by 1, 2, 3, 4

),

groups as (

    select
        year,
        target_group,
        target_group_label,
        count(*)::integer                                                      as persons,
        sum(person_months)::integer                                            as person_months
        {%- for row in departments %},
        sum(cost_{{ row["department"] }})                                      as cost_{{ row["department"] }}
        {%- endfor %}
    from person_years
    group by 1, 2, 3

),

cells as (

    select
        groups.year,
        departments.department,
        departments.department_label,
        groups.target_group,
        groups.target_group_label,
        groups.persons,
        groups.person_months,
        departments.cost                                                       as cost_total
    from groups
    cross join lateral (
        values
        {%- for row in departments %}
            ('{{ row["department"] }}', '{{ row["department_label"] | replace("'", "''") }}', groups.cost_{{ row["department"] }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as departments (department, department_label, cost)

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
