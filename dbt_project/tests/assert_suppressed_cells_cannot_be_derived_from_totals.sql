{#-
    Complementary suppression: no hidden cell of a public mart can be recovered as a
    published total minus the visible parts. Fails with the groups where the hidden parts of
    a visible total stand for 1 to var('min_cell_size') - 1 distinct persons:
    - economy: a department's month (economy_cost_coverage_department_monthly) against its
      kontoplan functions (economy_cost_coverage_function_monthly), counting the distinct
      persons behind the hidden functions (int_attributed_cost_by_person_function_monthly);
    - programmes: the pooled cohort `alle` against the start-year cohorts
      (programme_outcomes_months_since_start), for participants and self-supporting counts,
      counting the distinct persons behind the hidden cohorts (int_programme_cohort_members).
    The persons behind a hidden cell are read from the unsuppressed facts; the hidden parts
    taken together are checked by the same rule as a published cell (for self-support, the
    smaller side: self-supporting or not).
-#}
{%- set min_cell = var('min_cell_size', 5) | int %}

with

economy_hidden_rows as (

    -- The hidden function rows of the departments whose total is published.
    select functions.month, functions.department, functions.kontoplan_function
    from {{ ref('economy_cost_coverage_function_monthly') }} as functions
    inner join {{ ref('economy_cost_coverage_department_monthly') }} as departments
        on  functions.month = departments.month
        and functions.department = departments.department
    where functions.is_suppressed and not departments.is_suppressed

),

economy as (

    -- The department total minus its visible functions is the sum of the hidden rows: it
    -- stands for the *distinct* persons with attributed cost on any of them (a person on two
    -- hidden functions is one person).
    select
        'economy'::text                                          as mart,
        hidden.month::text || ' ' || hidden.department           as grouping,
        count(distinct persons.person_key)                       as hidden_persons,
        count(distinct hidden.kontoplan_function)                as hidden_cells
    from economy_hidden_rows as hidden
    left join {{ ref('int_attributed_cost_by_person_function_monthly') }} as persons
        on  hidden.month = persons.month
        and hidden.department = persons.department
        and hidden.kontoplan_function = persons.kontoplan_function
        and (persons.direct_cost <> 0 or persons.imputed_cost <> 0)
    group by hidden.month, hidden.department

),

cohorts as (

    select
        published.*,
        outcomes.participants                            as true_participants,
        outcomes.self_supporting                         as true_self_supporting
    from {{ ref('programme_outcomes_months_since_start') }} as published
    inner join {{ ref('fct_programme_cohort_outcomes') }} as outcomes
        on  published.programme_code = outcomes.programme_code
        and published.cohort = outcomes.cohort
        and published.months_since_start = outcomes.months_since_start

),

pooled as (

    select * from cohorts where cohort = 'alle'

),

start_year_cohorts as (

    -- Each start-year cohort beside the published `alle` of its programme and month.
    select
        cohorts.*,
        pooled.participants     as pooled_participants,
        pooled.self_supporting  as pooled_self_supporting
    from cohorts
    inner join pooled
        on  cohorts.programme_code = pooled.programme_code
        and cohorts.months_since_start = pooled.months_since_start
    where cohorts.cohort <> 'alle'

),

programme_participants as (

    -- `alle` minus the visible cohorts stands for the distinct persons of the hidden cohorts.
    select
        'programme participants'::text                   as mart,
        hidden.programme_code || ' ' || hidden.months_since_start::text  as grouping,
        count(distinct members.person_id)                as hidden_persons,
        count(distinct hidden.cohort)                    as hidden_cells
    from start_year_cohorts as hidden
    inner join {{ ref('int_programme_cohort_members') }} as members
        on  hidden.programme_code = members.programme_code
        and hidden.cohort = members.cohort
        and hidden.months_since_start = members.months_since_start
    where hidden.pooled_participants is not null and hidden.participants is null
    group by hidden.programme_code, hidden.months_since_start

),

programme_self_support as (

    -- `alle` minus the visible cohorts: the hidden cohorts' self-supporting count and the
    -- rest, standing for the distinct persons who are (not) self-supporting.
    select
        'programme self-supporting'::text                as mart,
        hidden.programme_code || ' ' || hidden.months_since_start::text  as grouping,
        coalesce(least(
            nullif(count(distinct members.person_id) filter (where members.is_self_supporting), 0),
            nullif(count(distinct members.person_id) filter (where not members.is_self_supporting), 0)
        ), 0)                                            as hidden_persons,
        count(distinct hidden.cohort)                    as hidden_cells
    from start_year_cohorts as hidden
    inner join {{ ref('int_programme_cohort_members') }} as members
        on  hidden.programme_code = members.programme_code
        and hidden.cohort = members.cohort
        and hidden.months_since_start = members.months_since_start
    where hidden.pooled_self_supporting is not null and hidden.self_supporting is null
    group by hidden.programme_code, hidden.months_since_start

),

checked as (

    select * from economy
    union all
    select * from programme_participants
    union all
    select * from programme_self_support

)

select *
from checked
where hidden_cells > 0 and hidden_persons between 1 and {{ min_cell - 1 }}
