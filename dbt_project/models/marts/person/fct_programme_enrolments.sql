{#-
    Programme process per enrolment (domain brief section 6): coordinator assigned, joint
    plan made and how fast (days from start to the joint plan), how fast the citizen
    started (days from referral to start), network meetings held, the first and latest
    progression score (mean of the markers scored that day) and the citizen survey's first
    answers.
-#}
with

enrolments as (

    select * from {{ ref('stg_helhed__enrolments') }}

),

months as (

    select max(as_of_date) as as_of_date from {{ ref('int_months') }}

),

meetings as (

    select
        enrolment_id,
        count(*)::integer                        as network_meetings,
        min(meeting_date)                        as first_meeting_date,
        avg(departments_present)::numeric(6, 2)  as mean_departments_present
    from {{ ref('stg_helhed__network_meetings') }}
    group by enrolment_id

),

scores as (

    select
        enrolment_id,
        (array_agg(mean_score order by score_date))[1]       as first_progression_score,
        (array_agg(mean_score order by score_date desc))[1]  as latest_progression_score,
        count(*)::integer                                    as progression_scorings
    from {{ ref('int_progression_scores_averaged') }}
    group by enrolment_id

),

survey as (

    select distinct on (enrolment_id)
        enrolment_id,
        answer_date,
        joint_plan_received = 'Ja'  as survey_joint_plan_received,
        involvement                 as survey_involvement,
        closer_to_goals             as survey_closer_to_goals
    from {{ ref('stg_helhed__survey') }}
    order by enrolment_id, answer_date

)

select
    enrolments.enrolment_id,
    enrolments.person_key,
    enrolments.programme_code,
    enrolments.referral_date,
    enrolments.start_date,
    date_trunc('month', enrolments.start_date)::date                        as start_month,
    enrolments.end_date,
    enrolments.end_date is null or enrolments.end_date >= months.as_of_date as is_active,
    enrolments.coordinator_id is not null                                   as has_coordinator,
    enrolments.joint_plan_date,
    enrolments.joint_plan_date is not null                                  as has_joint_plan,
    (enrolments.start_date - enrolments.referral_date)                      as days_referral_to_start,
    (enrolments.joint_plan_date - enrolments.start_date)                    as days_start_to_joint_plan,
    coalesce(meetings.network_meetings, 0)                                  as network_meetings,
    meetings.first_meeting_date,
    meetings.mean_departments_present,
    scores.progression_scorings,
    scores.first_progression_score,
    scores.latest_progression_score,
    survey.answer_date                                                      as survey_answer_date,
    survey.survey_joint_plan_received,
    survey.survey_involvement,
    survey.survey_closer_to_goals
from enrolments
cross join months
left join meetings
    on enrolments.enrolment_id = meetings.enrolment_id
left join scores
    on enrolments.enrolment_id = scores.enrolment_id
left join survey
    on enrolments.enrolment_id = survey.enrolment_id
