{#-
    Contact points and parallel services per month (dashboard Målgrupper og kontaktpunkter,
    domain brief section 1: 10-15 contact parties, 2-3 departments, 7-8 concurrent services):
    residents with activity in at least one department, per month, district, age band and
    department combination (which departments the person is active in that month, e.g.
    "Beskæftigelse + Sundhed og omsorg"). Measures: persons, their mean contact points and mean
    concurrent services, and persons with at least one parallel service (a purpose served by
    two or more departments). Small cells suppressed: fewer than 5 persons hide the row's
    measures; the parallel-service count is hidden on its own when it, or the persons without a
    parallel service, are 1-4 (smallest_cell_of_share).
-#}
{{ config(pre_hook="{{ big_work_mem() }}") }}
{%- set departments = seed_rows('departments', where='is_service_department', order_by='sort_order') %}

with

person_months as (

    select * from {{ ref('fct_person_month') }}

),

persons as (

    select * from {{ ref('dim_person') }}

),

months as (

    select * from {{ ref('int_months') }}

),

active as (

    select
        person_months.month,
        coalesce(persons.district, 'ukendt')                                   as district,
        {{ age_band('person_months.age_years') }}                              as age_band,
        concat_ws(' + '
        {%- for row in departments %},
            case when person_months.is_active_{{ row['department'] }} then '{{ row['department_label'] | replace("'", "''") }}' end
        {%- endfor %}
        )                                                                      as department_combination,
        person_months.departments_active,
        person_months.contact_points,
        person_months.concurrent_services,
        person_months.parallel_services
    from person_months
    left join persons
        on persons.person_key = person_months.person_key
    where person_months.is_resident
      and person_months.departments_active >= 1

),

cells as (

    select
        month,
        district,
        age_band,
        department_combination,
        max(departments_active)::integer                                       as departments_active,
        count(*)::integer                                                      as persons,
        count(*) filter (where parallel_services > 0)::integer                 as persons_with_parallel_services,
        avg(contact_points)                                                    as mean_contact_points,
        avg(concurrent_services)                                               as mean_concurrent_services
    from active
    group by 1, 2, 3, 4

),

as_of as (

    select max(as_of_date) as data_as_of from {{ ref('int_months') }}

)

select
    cells.month,
    cells.district,
    cells.age_band,
    cells.department_combination,
    cells.departments_active,
    ({{ suppress_small('cells.persons') }})::integer                           as persons,
    (case
        when {{ is_small_cell('cells.persons') }}
          or {{ is_small_cell(smallest_cell_of_share('cells.persons', 'cells.persons_with_parallel_services')) }}
        then null else cells.persons_with_parallel_services
    end)::integer                                                              as persons_with_parallel_services,
    ({{ suppress_small('cells.persons', value_expr='round(cells.mean_contact_points, 2)') }})::numeric(8, 2)
                                                                               as mean_contact_points,
    ({{ suppress_small('cells.persons', value_expr='round(cells.mean_concurrent_services, 2)') }})::numeric(8, 2)
                                                                               as mean_concurrent_services,
    ({{ is_small_cell('cells.persons') }}
      or {{ is_small_cell(smallest_cell_of_share('cells.persons', 'cells.persons_with_parallel_services')) }})
                                                                               as is_suppressed,
    months.is_complete                                                         as is_complete_month,
    months.days_covered,
    as_of.data_as_of
from cells
inner join months
    on cells.month = months.month
cross join as_of
