{#-
    Progression on the 12 markers over months since start (dashboard Progression og borgerens
    oplevelse): per programme, cohort (start year of the enrolment) and marker (1-12), and
    months from the enrolment's start month to the month of the scoring (0 = start month), the
    persons who scored the marker that month and their mean score (the citizen's own score,
    1-10; a person scoring a marker twice in a month counts with the latest score). Fewer than
    5 persons hide the mean.
-#}
with

scores as (

    select * from {{ ref('stg_helhed__progression') }}

),

enrolments as (

    select * from {{ ref('fct_programme_enrolments') }}

),

catalogue as (

    select * from {{ ref('service_catalogue') }}

),

latest_in_month as (

    select distinct on (scores.enrolment_id, date_trunc('month', scores.score_date), scores.marker)
        enrolments.programme_code,
        extract(year from enrolments.start_month)::integer                     as cohort,
        (extract(year from age(date_trunc('month', scores.score_date), enrolments.start_month)) * 12
         + extract(month from age(date_trunc('month', scores.score_date), enrolments.start_month)))::integer
                                                                               as months_since_start,
        scores.marker,
        enrolments.person_key,
        scores.score
    from scores
    inner join enrolments
        on enrolments.enrolment_id = scores.enrolment_id
    where scores.marker between 1 and 12
      and scores.score between 1 and 10
      and scores.score_date >= enrolments.start_month
    order by scores.enrolment_id, date_trunc('month', scores.score_date), scores.marker, scores.score_date desc

),

cells as (

    select
        programme_code,
        cohort,
        months_since_start,
        marker,
        count(distinct person_key)::integer                                    as persons,
        avg(score)                                                             as mean_score
    from latest_in_month
    group by 1, 2, 3, 4

),

as_of as (

    select max(as_of_date) as data_as_of from {{ ref('int_months') }}

)

select
    cells.programme_code,
    coalesce(catalogue.service_label, cells.programme_code)                    as programme_label,
    cells.cohort,
    cells.months_since_start,
    cells.marker,
    'Markør ' || lpad(cells.marker::text, 2, '0')                              as marker_label,
    ({{ suppress_small('cells.persons') }})::integer                           as persons,
    ({{ suppress_small('cells.persons', value_expr='round(cells.mean_score::numeric, 2)') }})::numeric(4, 2)
                                                                               as mean_score,
    {{ is_small_cell('cells.persons') }}                                       as is_suppressed,
    as_of.data_as_of
from cells
left join catalogue
    on catalogue.service_code = cells.programme_code
cross join as_of
