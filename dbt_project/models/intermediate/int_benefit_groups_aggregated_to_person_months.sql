{#-
    Benefit days per person, month and benefit group. Overlapping periods of the same group
    (a source error, flagged by a warn test) cannot give more days than the data cover of
    the month (days_covered: the calendar length, or up to the as-of date in the current
    month).
-#}
with

clipped as (

    select * from {{ ref('int_benefit_periods_clipped_to_months') }}

),

benefit_groups as (

    select * from {{ ref('benefit_groups') }}

),

aggregated as (

    select
        person_key,
        month,
        benefit_group,
        max(days_in_month)                         as days_in_month,
        max(days_covered)                          as days_covered,
        least(sum(benefit_days), max(days_covered))::integer  as benefit_days,
        count(*)::integer                          as period_count
    from clipped
    group by person_key, month, benefit_group

)

select
    aggregated.person_key,
    aggregated.month,
    aggregated.benefit_group,
    benefit_groups.is_income_support,
    aggregated.days_in_month,
    aggregated.days_covered,
    aggregated.benefit_days,
    aggregated.period_count
from aggregated
inner join benefit_groups
    on aggregated.benefit_group = benefit_groups.benefit_group
