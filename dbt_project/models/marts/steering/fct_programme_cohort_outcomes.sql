{#-
    Programme cohorts followed over years (domain brief section 6): per programme, cohort
    (start year, and `alle` for all cohorts pooled) and months since the start month
    (negative: the var('programme_baseline_months') baseline months before it), the
    participants resident on the 1st of that month (participations: a person re-enrolled in
    the programme counts in each cohort; int_programme_cohort_members), how many of them are
    self-supporting (no day on the benefit groups the warehouse receives; efterløn, SU and
    other benefits it does not receive count as self-supporting), in ordinary employment and in
    education, and their cost (direct + imputed, per department). Every programme of the
    service catalogue has the baseline-to-start rows of the pooled cohort even before its
    first enrolment. Not suppressed (BI role only); programme_outcomes_months_since_start is.
-#}
{%- set cost_departments = seed_values('departments', 'department', where='is_cost_department') -%}
{%- set baseline_months = var('programme_baseline_months', 12) | int %}

with

programmes as (

    select service_code as programme_code
    from {{ ref('service_catalogue') }}
    where source = 'helhed'

),

observations as (

    select * from {{ ref('int_programme_cohort_members') }}

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
