{#-
    The citizen's own progression score per enrolment and scoring date: the mean over the
    markers scored that day (up to 12, scale 1-10), with the day before the next scoring
    (`valid_until`), so a person-month can pick the latest score on or before its last day.
-#}
with

scores as (

    select * from {{ ref('stg_helhed__progression') }}

),

enrolments as (

    select * from {{ ref('stg_helhed__enrolments') }}

),

averaged as (

    select
        scores.enrolment_id,
        enrolments.person_key,
        scores.score_date,
        count(*)::integer                        as markers,
        round(avg(scores.score), 2)::numeric(4, 2)  as mean_score
    from scores
    inner join enrolments
        on scores.enrolment_id = enrolments.enrolment_id
    group by 1, 2, 3

)

select
    enrolment_id,
    person_key,
    score_date,
    markers,
    mean_score,
    (lead(score_date) over (partition by person_key order by score_date, enrolment_id) - 1)  as valid_until
from averaged
