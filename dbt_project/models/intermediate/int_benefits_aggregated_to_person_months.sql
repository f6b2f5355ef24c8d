{#-
    Benefit status per person and month with at least one benefit day: days in the month,
    the days the data cover (days_covered: up to the as-of date in the current month),
    benefit days, income-support days, full-time person share (Jobindsats: benefit days /
    days of the period, i.e. days_covered, capped at 1), primary benefit group (most days; ties go to the first
    code alphabetically), visitation category of the last period overlapping the month
    (latest start, then latest end, then period id) and whether visitation applies to that
    period's benefit group (benefit_groups.has_visitation), self-support, and one
    ftp_<benefit_group> share per row of the benefit_groups seed (group days /
    greatest(benefit_days, days_covered), so they add up to the full-time person share).
    Keyed by person_id (macro person_id). Incremental by month like int_person_months.
-#}
{{ config(**incremental_by_month_config(drop_months_before_window=false)) }}

{%- set batch_start = incremental_batch_start() -%}
{%- set benefit_groups = seed_values('benefit_groups', 'benefit_group') %}

with

group_days as (

    select {{ person_id('person_key') }} as person_id, *
    from {{ ref('int_benefit_groups_aggregated_to_person_months') }}
    where {{ in_batch('month', batch_start) }}

),

clipped_periods as (

    select {{ person_id('person_key') }} as person_id, *
    from {{ ref('int_benefit_periods_clipped_to_months') }}
    where {{ in_batch('month', batch_start) }}

),

months as (

    select * from {{ ref('int_months') }}

),

benefit_groups as (

    select * from {{ ref('benefit_groups') }}

),

person_months as (

    select
        person_id,
        month,
        max(days_in_month)::integer                                        as days_in_month,
        max(days_covered)::integer                                         as days_covered,
        sum(benefit_days)::integer                                         as benefit_days,
        coalesce(sum(benefit_days) filter (where is_income_support), 0)::integer
                                                                           as income_support_days,
        -- The group with most days; ties go to the first code alphabetically.
        (array_agg(benefit_group order by benefit_days desc, benefit_group))[1]
                                                                           as primary_benefit_group
        {%- for benefit_group in benefit_groups %},
        coalesce(sum(benefit_days) filter (where benefit_group = '{{ benefit_group }}'), 0)
                                                                           as days_{{ benefit_group }}
        {%- endfor %}
    from group_days
    group by person_id, month

),

last_period as (

    -- The last period overlapping the month: latest start, then latest end, then period_id.
    select
        person_id,
        month,
        (array_agg(visitation_category order by start_date desc, effective_end_date desc, period_id desc))[1]
                                                                           as visitation_category,
        (array_agg(benefit_group order by start_date desc, effective_end_date desc, period_id desc))[1]
                                                                           as last_benefit_group
    from clipped_periods
    group by person_id, month

)

select
    person_months.person_id,
    person_months.month,
    months.as_of_date,
    person_months.days_in_month,
    person_months.days_covered,
    person_months.benefit_days,
    person_months.income_support_days,
    round(
        least(person_months.benefit_days::numeric / person_months.days_covered, 1), 4
    )::numeric(5, 4)                                         as full_time_person_share,
    person_months.primary_benefit_group,
    last_period.visitation_category,
    benefit_groups.has_visitation                            as is_visitation_relevant,
    person_months.income_support_days = 0                    as is_self_supporting
    {%- for benefit_group in benefit_groups %},
    person_months.days_{{ benefit_group }}::integer          as days_{{ benefit_group }},
    (case when person_months.days_{{ benefit_group }} = 0 then 0 else round(
        person_months.days_{{ benefit_group }}::numeric
        / greatest(person_months.benefit_days, person_months.days_covered), 4
    ) end)::numeric(5, 4)                                    as ftp_{{ benefit_group }}
    {%- endfor %}
from person_months
inner join last_period
    on  person_months.person_id = last_period.person_id
    and person_months.month = last_period.month
inner join months
    on person_months.month = months.month
inner join benefit_groups
    on last_period.last_benefit_group = benefit_groups.benefit_group
