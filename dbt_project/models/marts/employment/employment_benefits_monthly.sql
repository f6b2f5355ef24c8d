{#-
    Persons and full-time persons per benefit group and month (Jobindsats definition:
    full-time persons = benefit days in the month / days in the month). Only groups with at
    least one person in the month have a row; small cells are suppressed.
-#}
with

group_days as (

    select * from {{ ref('int_benefit_groups_aggregated_to_person_months') }}

),

benefit_groups as (

    select * from {{ ref('benefit_groups') }}

),

aggregated as (

    select
        month,
        benefit_group,
        max(days_in_month)   as days_in_month,
        count(*)             as persons,
        sum(benefit_days)    as benefit_days
    from group_days
    where benefit_days >= 1
    group by month, benefit_group

)

select
    aggregated.month,
    aggregated.benefit_group,
    benefit_groups.benefit_group_label,
    ({{ suppress_small('aggregated.persons') }})::integer                 as persons,
    ({{ suppress_small(
        'aggregated.persons',
        value_expr='round(aggregated.benefit_days::numeric / aggregated.days_in_month, 2)'
    ) }})::numeric(12, 2)                                                  as full_time_persons,
    {{ is_small_cell('aggregated.persons') }}                             as is_suppressed
from aggregated
inner join benefit_groups
    on aggregated.benefit_group = benefit_groups.benefit_group
