{#-
    Persons and full-time persons per benefit group and month (Jobindsats: full-time persons
    = benefit days in the period / days in the period). The period is the part of the month
    the data cover (int_months.days_covered): the calendar month once it has ended, the first
    day to the as-of date in the current month, which is flagged is_complete_month = false.
    Every month has a row for every benefit group of the seed, 0 included (the zero rule of
    macros/suppress_small.sql); small cells are suppressed.
-#}
with

group_days as (

    select * from {{ ref('int_benefit_groups_aggregated_to_person_months') }}

),

benefit_groups as (

    select * from {{ ref('benefit_groups') }}

),

months as (

    select * from {{ ref('int_months') }}

),

aggregated as (

    select
        month,
        benefit_group,
        count(*)             as persons,
        sum(benefit_days)    as benefit_days
    from group_days
    where benefit_days >= 1
    group by month, benefit_group

),

grid as (

    select
        months.month,
        months.days_covered,
        months.is_complete,
        benefit_groups.benefit_group,
        benefit_groups.benefit_group_label,
        coalesce(aggregated.persons, 0)       as persons,
        coalesce(aggregated.benefit_days, 0)  as benefit_days
    from months
    cross join benefit_groups
    left join aggregated
        on  aggregated.month = months.month
        and aggregated.benefit_group = benefit_groups.benefit_group

)

select
    month,
    benefit_group,
    benefit_group_label,
    ({{ suppress_small('persons') }})::integer                            as persons,
    ({{ suppress_small(
        'persons',
        value_expr='round(benefit_days::numeric / days_covered, 2)'
    ) }})::numeric(12, 2)                                                  as full_time_persons,
    {{ is_small_cell('persons') }}                                        as is_suppressed,
    is_complete                                                           as is_complete_month,
    days_covered
from grid
