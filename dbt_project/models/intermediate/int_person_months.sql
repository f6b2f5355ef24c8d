{#-
    The person-month grain (domain brief section 4), incremental by month.

    One row per person and month in which the person has a benefit day, an activity (a
    service record or a programme enrolment), or attributed cost; and every month of a
    programme participant's follow-up window, from var('programme_baseline_months') (12)
    months before the enrolment's start month to the as-of date, even when nothing happens
    (zero-cost months are kept, so parts add up to totals).

    It joins the person-month aggregates (benefits, activities with the jobcenter's conversations
    held and offers active, cost) with residence and
    age, household, employment and education on the 1st, placements (own and a child's),
    the latest progression score, network meetings and programme participation.
    Columns per benefit group (ftp_<group>), service department (is_active_<department>)
    and cost department (cost_*_<department>) come from the seeds.

    Keyed by person_id (macro person_id) for speed, with the person_key it stands for.
    Incremental: each run recomputes the months from macros/incremental.sql's batch start
    and keeps the months before it; months that fell out of int_months are deleted.
-#}
{{ config(**incremental_by_month_config(drop_months_before_window=true)) }}

{%- set batch_start = incremental_batch_start() -%}
{%- set benefit_groups = seed_values('benefit_groups', 'benefit_group') -%}
{%- set service_departments = seed_values('departments', 'department', where='is_service_department') -%}
{%- set cost_departments = seed_values('departments', 'department', where='is_cost_department') -%}
{%- set baseline_months = var('programme_baseline_months', 12) | int %}

with

months as (

    select * from {{ ref('int_months') }}
    where {{ in_batch('month', batch_start) }}

),

benefits as (

    select * from {{ ref('int_benefits_aggregated_to_person_months') }}
    where {{ in_batch('month', batch_start) }}

),

activities as (

    select * from {{ ref('int_activities_aggregated_to_person_months') }}
    where {{ in_batch('month', batch_start) }}

),

costs as (

    select * from {{ ref('int_cost_aggregated_to_person_months') }}
    where {{ in_batch('month', batch_start) }}

),

enrolment_months as (

    select {{ person_id('person_key') }} as person_id, *
    from {{ ref('int_programme_enrolments_clipped_to_months') }}
    where {{ in_batch('month', batch_start) }}

),

placement_months as (

    select {{ person_id('person_key') }} as person_id, *
    from {{ ref('int_placements_clipped_to_months') }}
    where {{ in_batch('month', batch_start) }}

),

persons as (

    select {{ person_id('person_key') }} as person_id, *
    from {{ ref('stg_cpr__persons') }}

),

relations as (

    select
        {{ person_id('child_person_key') }}   as child_person_id,
        {{ person_id('parent_person_key') }}  as parent_person_id
    from {{ ref('stg_cpr__relations') }}

),

enrolments as (

    select {{ person_id('person_key') }} as person_id, *
    from {{ ref('stg_helhed__enrolments') }}

),

network_meetings as (

    select * from {{ ref('stg_helhed__network_meetings') }}

),

progression as (

    select {{ person_id('person_key') }} as person_id, *
    from {{ ref('int_progression_scores_averaged') }}

),

employments as (

    select {{ person_id('person_key') }} as person_id, *
    from {{ ref('stg_eindkomst__employments') }}

),

education as (

    select {{ person_id('person_key') }} as person_id, *
    from {{ ref('stg_uddannelse__education_status') }}
    where education_status = 'I uddannelse'

),

household_members as (

    select {{ person_id('person_key') }} as person_id, *
    from {{ ref('int_household_members') }}

),

-- Programme participation: cohort follow-up windows.

cohort_months as (

    select
        enrolments.person_id,
        months.month,
        enrolments.enrolment_id,
        enrolments.programme_code,
        enrolments.start_date,
        date_trunc('month', enrolments.start_date)::date  as start_month
    from enrolments
    inner join months
        on months.month >= (date_trunc('month', enrolments.start_date)
                            - interval '{{ baseline_months }} months')::date

),

programme as (

    -- The latest enrolment started by the month; in baseline months, the next one to start.
    select distinct on (person_id, month)
        person_id,
        month,
        programme_code,
        enrolment_id,
        (
            (extract(year from month) - extract(year from start_month)) * 12
            + extract(month from month) - extract(month from start_month)
        )::integer                                                         as months_since_enrolment
    from cohort_months
    order by person_id, month, (start_month <= month) desc,
        case when start_month <= month then start_date end desc nulls last, start_date, enrolment_id

),

spine as not materialized (

    select * from {{ ref('int_person_month_spine') }}
    where {{ in_batch('month', batch_start) }}

),

enrolled as (

    select distinct person_id, month
    from enrolment_months
    where enrolment_days > 0

),

meetings as (

    select
        enrolments.person_id,
        date_trunc('month', network_meetings.meeting_date)::date  as month,
        count(*)::integer                                         as network_meetings
    from network_meetings
    inner join enrolments
        on network_meetings.enrolment_id = enrolments.enrolment_id
    where {{ in_batch('network_meetings.meeting_date', batch_start) }}
    group by 1, 2

),

-- Placements outside the home: the person's own, and a child's (parents via CPR links).

placed as (

    select
        person_id,
        month,
        (array_agg(placement_type order by start_date desc, service_record_id desc))[1]  as placement_type
    from placement_months
    group by person_id, month

),

child_placed as (

    select distinct
        relations.parent_person_id  as person_id,
        placed.month
    from placed
    inner join relations
        on placed.person_id = relations.child_person_id

),

-- Outcomes on the first day of the month (DST convention): employment and education.

employed as (

    select
        spine.person_id,
        spine.month,
        bool_or(employments.employment_type = 'Ordinær')  as is_in_ordinary_employment
    from spine
    inner join employments
        on  employments.person_id = spine.person_id
        and employments.start_date <= spine.month
        and coalesce(employments.end_date, 'infinity'::date) >= spine.month
    group by spine.person_id, spine.month

),

in_education as (

    select distinct
        spine.person_id,
        spine.month
    from spine
    inner join education
        on  education.person_id = spine.person_id
        and education.start_date <= spine.month
        and coalesce(education.end_date, 'infinity'::date) >= spine.month

),

latest_score as (

    select
        spine.person_id,
        spine.month,
        max(progression.mean_score)  as latest_progression_score
    from spine
    inner join progression
        on  progression.person_id = spine.person_id
        and progression.score_date <= spine.month_end
        and coalesce(progression.valid_until, 'infinity'::date) >= spine.month_end
    group by spine.person_id, spine.month

),

households as (

    select
        spine.person_id,
        spine.month,
        min(household_members.household_key)  as household_key
    from spine
    inner join household_members
        on  household_members.person_id = spine.person_id
        and household_members.valid_from <= spine.month_end
        and household_members.valid_to >= spine.month
    group by spine.person_id, spine.month

)

select
    spine.person_id,
    spine.person_key,
    spine.month,
    spine.as_of_date,
    spine.days_in_month,
    spine.days_covered,

    -- residence (int_person_month_spine) and age on the 1st
    spine.is_resident,
    case when persons.birth_date <= spine.month
        then date_part('year', age(spine.month, persons.birth_date))::integer
    end                                                                    as age_years,
    households.household_key,

    -- benefits
    coalesce(benefits.benefit_days, 0)                                     as benefit_days,
    coalesce(benefits.income_support_days, 0)                              as income_support_days,
    coalesce(benefits.full_time_person_share, 0)::numeric(5, 4)            as full_time_person_share,
    benefits.primary_benefit_group,
    benefits.visitation_category,
    benefits.is_visitation_relevant,
    coalesce(benefits.is_self_supporting, true)                            as is_self_supporting
    {%- for benefit_group in benefit_groups %},
    coalesce(benefits.ftp_{{ benefit_group }}, 0)::numeric(5, 4)           as ftp_{{ benefit_group }}
    {%- endfor %},

    -- departments, services, contact points
    coalesce(activities.departments_active, 0)                             as departments_active
    {%- for department in service_departments %},
    coalesce(activities.is_active_{{ department }}, false)                 as is_active_{{ department }}
    {%- endfor %},
    coalesce(activities.concurrent_services, 0)                            as concurrent_services,
    coalesce(activities.contact_points, 0)                                 as contact_points,
    coalesce(meetings.network_meetings, 0)                                 as network_meetings,
    coalesce(activities.parallel_services, 0)                              as parallel_services,
    coalesce(activities.conversations_held, 0)                             as conversations_held,
    coalesce(activities.offers_active, 0)                                  as offers_active,
    coalesce(activities.service_codes, '{}'::text[])                       as service_codes,
    coalesce(activities.service_purposes, '{}'::text[])                    as service_purposes,
    coalesce(activities.service_departments, '{}'::text[])                 as service_departments,

    -- outcomes
    coalesce(employed.is_in_ordinary_employment, false)                    as is_in_ordinary_employment,
    in_education.person_id is not null                                    as is_in_education,
    placed.person_id is not null                                          as is_placed_outside_home,
    placed.placement_type,
    child_placed.person_id is not null                                    as has_child_placed_outside_home,
    latest_score.latest_progression_score,

    -- programme
    programme.programme_code,
    programme.enrolment_id,
    programme.months_since_enrolment,
    enrolled.person_id is not null                                        as is_enrolled,

    -- cost
    coalesce(costs.cost_direct, 0)::numeric(16, 2)                         as cost_direct,
    coalesce(costs.cost_imputed, 0)::numeric(16, 2)                        as cost_imputed,
    coalesce(costs.cost_total, 0)::numeric(16, 2)                          as cost_total
    {%- for department in cost_departments %},
    coalesce(costs.cost_direct_{{ department }}, 0)::numeric(16, 2)        as cost_direct_{{ department }},
    coalesce(costs.cost_imputed_{{ department }}, 0)::numeric(16, 2)       as cost_imputed_{{ department }},
    coalesce(costs.cost_total_{{ department }}, 0)::numeric(16, 2)         as cost_total_{{ department }}
    {%- endfor %},
    spine.trailing_12m_cost,
    spine.cost_rank

from spine
left join persons
    on spine.person_id = persons.person_id
left join households
    on spine.person_id = households.person_id and spine.month = households.month
left join benefits
    on spine.person_id = benefits.person_id and spine.month = benefits.month
left join activities
    on spine.person_id = activities.person_id and spine.month = activities.month
left join meetings
    on spine.person_id = meetings.person_id and spine.month = meetings.month
left join employed
    on spine.person_id = employed.person_id and spine.month = employed.month
left join in_education
    on spine.person_id = in_education.person_id and spine.month = in_education.month
left join placed
    on spine.person_id = placed.person_id and spine.month = placed.month
left join child_placed
    on spine.person_id = child_placed.person_id and spine.month = child_placed.month
left join latest_score
    on spine.person_id = latest_score.person_id and spine.month = latest_score.month
left join programme
    on spine.person_id = programme.person_id and spine.month = programme.month
left join enrolled
    on spine.person_id = enrolled.person_id and spine.month = enrolled.month
left join costs
    on spine.person_id = costs.person_id and spine.month = costs.month
