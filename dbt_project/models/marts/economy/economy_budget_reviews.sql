{#-
    Budget reviews for the dashboard Økonomi og budgetopfølgning: fct_budget_reviews with the
    amounts that come from persons' cost hidden where they could identify someone.

    The budgets (adopted, corrected, decisions) are the council's and always shown. The actual
    to date, expected year-end and deviation of a function are hidden (is_suppressed) when:
    - primary: a month of the year to date is hidden in economy_cost_coverage_function_monthly
      (1-4 persons carried it, or it was hidden to protect another): the year to date minus the
      visible months would give it. A function that 1-4 distinct persons carry in the year to
      date has such a month, so it is hidden too;
    - complementary: a department's actual to date can be summed from the published monthly
      department totals, so one hidden function could be recovered by subtraction. The hidden
      functions of a department and review must stand for at least var('min_cell_size') persons
      by a lower bound (the most persons in one month of one of them, max_monthly_persons);
      while they do not, the visible function with the fewest is hidden too. The bound never
      overstates the distinct persons, so this can hide more than needed, never less.
    The mart shows no count of persons.
-#}
{%- set min_cell = var('min_cell_size', 5) | int %}

with

reviews as (

    select * from {{ ref('fct_budget_reviews') }}

),

review_months as (

    select review_id, budget_year, review_month from {{ ref('int_budget_reviews') }}

),

hidden_months as (

    -- Functions with a month of the year to date hidden in the monthly function mart.
    select distinct
        review_months.review_id,
        monthly.department,
        monthly.kontoplan_function
    from review_months
    inner join {{ ref('economy_cost_coverage_function_monthly') }} as monthly
        on  monthly.month >= make_date(review_months.budget_year, 1, 1)
        and monthly.month <= review_months.review_month
        and monthly.is_suppressed

),

primary_suppression as (

    select
        reviews.*,
        reviews.max_monthly_persons between 1 and {{ min_cell - 1 }}
            or hidden_months.review_id is not null                               as is_primary_suppressed
    from reviews
    left join hidden_months
        on  hidden_months.review_id = reviews.review_id
        and hidden_months.department = reviews.department
        and hidden_months.kontoplan_function = reviews.kontoplan_function

),

hidden_persons as (

    -- A lower bound of the persons behind the primary-hidden functions of each department and review.
    select
        review_id,
        department,
        max(max_monthly_persons)                                                  as persons
    from primary_suppression
    where is_primary_suppressed
    group by 1, 2

),

complementary as (

    select distinct on (candidates.review_id, candidates.department)
        candidates.review_id,
        candidates.department,
        candidates.kontoplan_function
    from primary_suppression as candidates
    inner join hidden_persons
        on  candidates.review_id = hidden_persons.review_id
        and candidates.department = hidden_persons.department
    where hidden_persons.persons between 1 and {{ min_cell - 1 }}
      and not candidates.is_primary_suppressed
      and candidates.max_monthly_persons >= {{ min_cell }}
    order by candidates.review_id, candidates.department, candidates.max_monthly_persons, candidates.kontoplan_function

),

flagged as (

    select
        primary_suppression.*,
        primary_suppression.is_primary_suppressed
            or complementary.kontoplan_function is not null                      as is_hidden
    from primary_suppression
    left join complementary
        on  primary_suppression.review_id = complementary.review_id
        and primary_suppression.department = complementary.department
        and primary_suppression.kontoplan_function = complementary.kontoplan_function

)

select
    review_id,
    budget_year,
    review_code,
    review_label,
    review_date,
    is_annual_accounts,
    department,
    department_label,
    kontoplan_function,
    function_label,
    adopted_budget,
    ledger_budget_corrections,
    approved_decisions_to_date,
    approved_decisions_at_review,
    corrected_budget,
    (case when not is_hidden then actual_to_date end)::numeric(16, 2)           as actual_to_date,
    forecast_method,
    year_share,
    (case when not is_hidden then expected_year_end end)::numeric(16, 2)        as expected_year_end,
    (case when not is_hidden then deviation end)::numeric(16, 2)                as deviation,
    (case when not is_hidden then deviation_pct end)::numeric(12, 4)            as deviation_pct,
    (case when not is_hidden then is_flagged_for_approval end)                  as is_flagged_for_approval,
    is_hidden                                                                   as is_suppressed,
    data_as_of
from flagged
