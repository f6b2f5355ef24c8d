{#-
    Programme cohort members: one row per participant-month of an enrolment, with the
    programme, the cohort (the enrolment's start year), the months since the start month
    (negative: the var('programme_baseline_months') baseline months before it) and the
    person's outcomes and cost that month. Residents on the 1st only. A person re-enrolled in
    the same programme has a row in each enrolment's cohort. fct_programme_cohort_outcomes
    counts them; the public programme mart reads the persons behind its hidden cells here, so
    its complementary suppression counts distinct persons.
-#}
{%- set cost_departments = seed_values('departments', 'department', where='is_cost_department') -%}

with

person_months as (

    select * from {{ ref('int_person_months') }}
    where enrolment_id is not null and is_resident

),

enrolments as (

    select * from {{ ref('stg_helhed__enrolments') }}

)

select
    person_months.programme_code,
    extract(year from enrolments.start_date)::integer::text  as cohort,
    person_months.months_since_enrolment                     as months_since_start,
    person_months.person_id,
    person_months.is_self_supporting,
    person_months.is_in_ordinary_employment,
    person_months.is_in_education,
    person_months.cost_total
    {%- for department in cost_departments %},
    person_months.cost_total_{{ department }}
    {%- endfor %}
from person_months
inner join enrolments
    on person_months.enrolment_id = enrolments.enrolment_id
