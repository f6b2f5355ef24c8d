{#-
    The citizen's experience and the programme's working method per programme and cohort
    (start year) (dashboard Progression og borgerens oplevelse, domain brief section 4): the
    enrolments of the cohort, how many have a coordinator, a joint plan (and the mean days from
    start to the plan), at least one network meeting (and meetings per enrolment), and the
    citizen survey: answers, how many answered that they received a joint plan, and the mean
    involvement in the plan and the mean "closer to own goals" (both 1-5; answers outside 1-5,
    which the staging tests warn about, are left out of the means).
    Suppression: fewer than 5 enrolments (or persons) hide the row; each count of enrolments
    with a property is hidden when it, or the enrolments without it, are 1-4, and the survey
    means are hidden with fewer than 5 answers.
-#}
with

enrolments as (

    select * from {{ ref('fct_programme_enrolments') }}

),

catalogue as (

    select * from {{ ref('service_catalogue') }}

),

cells as (

    select
        programme_code,
        extract(year from start_month)::integer                                as cohort,
        count(*)::integer                                                      as enrolments,
        count(distinct person_key)::integer                                    as persons,
        count(*) filter (where has_coordinator)::integer                       as with_coordinator,
        count(*) filter (where has_joint_plan)::integer                        as with_joint_plan,
        avg(days_start_to_joint_plan)                                          as mean_days_start_to_joint_plan,
        count(*) filter (where network_meetings > 0)::integer                  as with_network_meeting,
        sum(network_meetings)::integer                                         as network_meetings,
        count(survey_answer_date)::integer                                     as survey_answers,
        count(*) filter (where survey_joint_plan_received)::integer            as survey_joint_plan_received,
        avg(survey_involvement) filter (where survey_involvement between 1 and 5) as mean_involvement,
        avg(survey_closer_to_goals) filter (where survey_closer_to_goals between 1 and 5) as mean_closer_to_goals
    from enrolments
    group by 1, 2

),

flagged as (

    select
        cells.*,
        {{ is_small_cell('least(cells.enrolments, cells.persons)') }}          as hide_row
    from cells

),

as_of as (

    select max(as_of_date) as data_as_of from {{ ref('int_months') }}

)

select
    flagged.programme_code,
    coalesce(catalogue.service_label, flagged.programme_code)                  as programme_label,
    flagged.cohort,
    (case when flagged.hide_row then null else flagged.enrolments end)::integer as enrolments,
    {%- for part in ['with_coordinator', 'with_joint_plan', 'with_network_meeting'] %}
    (case when flagged.hide_row
            or {{ is_small_cell(smallest_cell_of_share('flagged.enrolments', 'flagged.' ~ part)) }}
          then null else flagged.{{ part }} end)::integer                      as {{ part }},
    (case when flagged.hide_row
            or {{ is_small_cell(smallest_cell_of_share('flagged.enrolments', 'flagged.' ~ part)) }}
          then null else round(flagged.{{ part }}::numeric / flagged.enrolments, 4) end)::numeric(6, 4)
                                                                               as {{ part }}_share,
    {%- endfor %}
    (case when flagged.hide_row or {{ is_small_cell('flagged.with_joint_plan') }}
          then null else round(flagged.mean_days_start_to_joint_plan::numeric, 1) end)::numeric(10, 1)
                                                                               as mean_days_start_to_joint_plan,
    (case when flagged.hide_row then null
          else round(flagged.network_meetings::numeric / flagged.enrolments, 2) end)::numeric(10, 2)
                                                                               as network_meetings_per_enrolment,
    (case when flagged.hide_row or {{ is_small_cell('flagged.survey_answers') }}
          then null else flagged.survey_answers end)::integer                  as survey_answers,
    (case when flagged.hide_row or {{ is_small_cell('flagged.survey_answers') }}
            or {{ is_small_cell(smallest_cell_of_share('flagged.survey_answers', 'flagged.survey_joint_plan_received')) }}
          then null else round(flagged.survey_joint_plan_received::numeric / nullif(flagged.survey_answers, 0), 4) end)::numeric(6, 4)
                                                                               as survey_joint_plan_received_share,
    (case when flagged.hide_row or {{ is_small_cell('flagged.survey_answers') }}
          then null else round(flagged.mean_involvement::numeric, 2) end)::numeric(4, 2)
                                                                               as mean_involvement,
    (case when flagged.hide_row or {{ is_small_cell('flagged.survey_answers') }}
          then null else round(flagged.mean_closer_to_goals::numeric, 2) end)::numeric(4, 2)
                                                                               as mean_closer_to_goals,
    flagged.hide_row                                                           as is_suppressed,
    as_of.data_as_of
from flagged
left join catalogue
    on catalogue.service_code = flagged.programme_code
cross join as_of
