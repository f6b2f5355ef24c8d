{#-
    Activity per year, department and target group (dashboard Aktivitet og tempo, domain brief
    section 4 "conversations and meetings", "tempo i sagsforløbet"): the residents active in the
    department at some month of the year who are in the target group that month (`alle` =
    every active resident), their person-months, the jobcenter conversations held and network
    meetings held in those person-months, and the mean contact points (caseworkers, programme
    coordinators and departments) per citizen per month. Rates are per person-month.
    A person active in two departments counts under both (rows do not add up across
    departments). Fewer than 5 persons hide the row's measures.
-#}
{{ config(pre_hook="{{ big_work_mem() }}") }}

with

person_months as (

    select * from {{ ref('fct_person_month') }}

),

{#- One row per person, year, department and target group first, then the groups: a person
    counts once per cell without a count(distinct) over every person-month membership. -#}
person_years as (

    select
        extract(year from person_months.month)::integer                       as year,
        memberships_department.department,
        memberships_department.department_label,
        memberships_target_group.target_group,
        memberships_target_group.target_group_label,
        person_months.person_key,
        count(*)                                                               as person_months,
        sum(person_months.conversations_held)                                  as conversations_held,
        sum(person_months.network_meetings)                                    as network_meetings,
        sum(person_months.contact_points)                                      as contact_points,
        count(person_months.contact_points)                                    as months_with_contact_points
    from person_months
    {{ department_memberships('person_months') }}
    {{ target_group_memberships('person_months') }}
    where person_months.is_resident
      and memberships_department.is_member
      and memberships_target_group.is_member
    group by 1, 2, 3, 4, 5, 6

),

cells as (

    select
        year,
        department,
        department_label,
        target_group,
        target_group_label,
        count(*)::integer                                                      as persons,
        sum(person_months)::integer                                            as person_months,
        sum(conversations_held)::integer                                       as conversations_held,
        sum(network_meetings)::integer                                         as network_meetings,
        sum(contact_points)::numeric / nullif(sum(months_with_contact_points), 0)
                                                                               as mean_contact_points
    from person_years
    group by 1, 2, 3, 4, 5

),

years as (

    select extract(year from month)::integer as year, bool_and(is_complete) as is_complete_year
    from {{ ref('int_months') }}
    group by 1

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
    ({{ suppress_small('cells.persons', value_expr='cells.conversations_held') }})::integer
                                                                               as conversations_held,
    ({{ suppress_small('cells.persons', value_expr='cells.network_meetings') }})::integer
                                                                               as network_meetings,
    ({{ suppress_small('cells.persons',
        value_expr='round(cells.conversations_held::numeric / cells.person_months, 4)') }})::numeric(10, 4)
                                                                               as conversations_per_person_month,
    ({{ suppress_small('cells.persons',
        value_expr='round(cells.network_meetings::numeric / cells.person_months, 4)') }})::numeric(10, 4)
                                                                               as network_meetings_per_person_month,
    ({{ suppress_small('cells.persons', value_expr='round(cells.mean_contact_points, 2)') }})::numeric(8, 2)
                                                                               as mean_contact_points,
    {{ is_small_cell('cells.persons') }}                                       as is_suppressed,
    as_of.data_as_of
from cells
inner join years
    on cells.year = years.year
cross join as_of
