{#-
    Programme cohorts followed over years (domain brief section 6): per programme, cohort
    (start year, and `alle` for all cohorts pooled) and months since the start month
    (negative: the var('programme_baseline_months') baseline months before it), the
    participants resident on the 1st of that month, how many of them are self-supporting
    (no day of public income support in the month), in ordinary employment and in
    education, and their cost (direct + imputed, per department). Every programme of the
    service catalogue has the baseline-to-start rows of the pooled cohort even before its
    first enrolment. Not suppressed (BI role only); programme_outcomes_months_since_start is.
-#}
{%- set cost_departments = seed_values('departments', 'department', where='is_cost_department') -%}
{%- set baseline_months = var('programme_baseline_months', 12) | int %}

with

person_months as (

    select * from {{ ref('int_person_months') }}
    where enrolment_id is not null and is_resident

),

enrolments as (

    select * from {{ ref('stg_helhed__enrolments') }}

),

programmes as (

    select service_code as programme_code
    from {{ ref('service_catalogue') }}
    where source = 'helhed'

),

observations as (

    select
        person_months.programme_code,
        extract(year from enrolments.start_date)::integer::text  as cohort,
        person_months.months_since_enrolment                     as months_since_start,
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

),

aggregated as (

    select
        programme_code,
        cohort,
        months_since_start,
        count(*)::integer                                            as participants,
        count(*) filter (where is_self_supporting)::integer          as self_supporting,
        count(*) filter (where is_in_ordinary_employment)::integer   as in_ordinary_employment,
        count(*) filter (where is_in_education)::integer             as in_education,
        sum(cost_total)::numeric(18, 2)                              as cost_total
        {%- for department in cost_departments %},
        sum(cost_total_{{ department }})::numeric(18, 2)             as cost_total_{{ department }}
        {%- endfor %}
    from (
        select programme_code, cohort, months_since_start, is_self_supporting, is_in_ordinary_employment,
            is_in_education, cost_total
            {%- for department in cost_departments %}, cost_total_{{ department }}{% endfor %}
        from observations
        union all
        select programme_code, 'alle', months_since_start, is_self_supporting, is_in_ordinary_employment,
            is_in_education, cost_total
            {%- for department in cost_departments %}, cost_total_{{ department }}{% endfor %}
        from observations
    ) as pooled
    group by programme_code, cohort, months_since_start

),

grid as (

    -- The pooled cohort's baseline and start month for every programme, observed or not.
    select programmes.programme_code, 'alle'::text as cohort, offsets.months_since_start
    from programmes
    cross join generate_series(-{{ baseline_months }}, 0) as offsets (months_since_start)

)

select
    coalesce(aggregated.programme_code, grid.programme_code)             as programme_code,
    coalesce(aggregated.cohort, grid.cohort)                             as cohort,
    coalesce(aggregated.months_since_start, grid.months_since_start)     as months_since_start,
    coalesce(aggregated.participants, 0)                                 as participants,
    coalesce(aggregated.self_supporting, 0)                              as self_supporting,
    coalesce(aggregated.in_ordinary_employment, 0)                       as in_ordinary_employment,
    coalesce(aggregated.in_education, 0)                                 as in_education,
    coalesce(aggregated.cost_total, 0)::numeric(18, 2)                   as cost_total
    {%- for department in cost_departments %},
    coalesce(aggregated.cost_total_{{ department }}, 0)::numeric(18, 2)  as cost_total_{{ department }}
    {%- endfor %}
from aggregated
full outer join grid
    on  aggregated.programme_code = grid.programme_code
    and aggregated.cohort = grid.cohort
    and aggregated.months_since_start = grid.months_since_start
