{#-
    Budget reviews (budgetopfølgning, domain brief section 7): per reported review, department
    and kontoplan function, the adopted budget, the corrected budget, the actual to date, the
    expected year-end and the deviation.

    corrected_budget = adopted_budget
                     + ledger_budget_corrections (the finance system's corrected budget minus the
                       adopted one, as in the latest budget delivery: that delivery does not date
                       its corrections, so they count at every review of the year)
                     + approved_decisions_to_date (valid legs of the decision register taken at a
                       review of the same year on or before this one; int_budget_decisions_validated)

    Actual to date and expected year-end: int_budget_review_actuals (the seasonal profile of
    the last complete years, else linear). deviation = expected_year_end - corrected_budget
    (positive: overspending); deviation_pct = deviation / corrected_budget. Overspending above
    var('budget_approval_threshold_pct') % of the corrected budget is flagged for approval.
    max_monthly_persons: the most persons with cost attributed to the function in one month of
    the year to date (fct_cost_attribution_monthly), a lower bound of the distinct persons behind
    the actual. Not suppressed (BI role only); economy_budget_reviews is.
-#}
{%- set threshold = var('budget_approval_threshold_pct', 1.0) %}

with

reviews as (

    select * from {{ ref('int_budget_reviews') }}
    where is_reported

),

budgets as (

    select * from {{ ref('int_budget_amounts_by_function') }}

),

actuals as (

    select * from {{ ref('int_budget_review_actuals') }}

),

decision_legs as (

    select * from {{ ref('int_budget_decisions_validated') }}
    where is_valid

),

attribution as (

    select month, department, kontoplan_function, persons_attributed
    from {{ ref('fct_cost_attribution_monthly') }}

),

applied_decisions as (

    select
        reviews.review_id,
        decision_legs.department,
        decision_legs.kontoplan_function,
        sum(decision_legs.signed_amount)                                             as decisions_to_date,
        coalesce(sum(decision_legs.signed_amount)
            filter (where decision_legs.review_id = reviews.review_id), 0)            as decisions_at_review
    from reviews
    inner join decision_legs
        on  extract(year from decision_legs.review_date) = reviews.budget_year
        and decision_legs.review_date <= reviews.review_date
    group by 1, 2, 3

),

persons_to_date as (

    select
        reviews.review_id,
        attribution.department,
        attribution.kontoplan_function,
        max(attribution.persons_attributed)                                          as max_monthly_persons
    from reviews
    inner join attribution
        on  attribution.month >= make_date(reviews.budget_year, 1, 1)
        and attribution.month <= reviews.review_month
    group by 1, 2, 3

),

keys as (

    select reviews.review_id, budgets.department, budgets.kontoplan_function
    from reviews
    inner join budgets on budgets.budget_year = reviews.budget_year
    union
    select review_id, department, kontoplan_function from actuals
    union
    select review_id, department, kontoplan_function from applied_decisions

),

figures as (

    select
        reviews.review_id,
        reviews.budget_year,
        reviews.review_code,
        reviews.review_label,
        reviews.review_date,
        reviews.is_annual_accounts,
        keys.department,
        keys.kontoplan_function,
        coalesce(budgets.adopted_budget, 0)                                          as adopted_budget,
        coalesce(budgets.ledger_corrected_budget, 0) - coalesce(budgets.adopted_budget, 0)
                                                                                     as ledger_budget_corrections,
        coalesce(applied_decisions.decisions_to_date, 0)                             as approved_decisions_to_date,
        coalesce(applied_decisions.decisions_at_review, 0)                           as approved_decisions_at_review,
        coalesce(budgets.ledger_corrected_budget, 0)
            + coalesce(applied_decisions.decisions_to_date, 0)                       as corrected_budget,
        coalesce(actuals.actual_to_date, 0)                                          as actual_to_date,
        coalesce(actuals.forecast_method, 'linear')                                  as forecast_method,
        coalesce(actuals.history_years, 0)                                           as history_years,
        coalesce(actuals.year_share, reviews.linear_year_share)                      as year_share,
        coalesce(actuals.expected_year_end, 0)                                       as expected_year_end,
        coalesce(persons_to_date.max_monthly_persons, 0)                             as max_monthly_persons,
        reviews.as_of_date
    from keys
    inner join reviews
        on keys.review_id = reviews.review_id
    left join budgets
        on  budgets.budget_year = reviews.budget_year
        and budgets.department = keys.department
        and budgets.kontoplan_function = keys.kontoplan_function
    left join actuals
        on  actuals.review_id = keys.review_id
        and actuals.department = keys.department
        and actuals.kontoplan_function = keys.kontoplan_function
    left join applied_decisions
        on  applied_decisions.review_id = keys.review_id
        and applied_decisions.department = keys.department
        and applied_decisions.kontoplan_function = keys.kontoplan_function
    left join persons_to_date
        on  persons_to_date.review_id = keys.review_id
        and persons_to_date.department = keys.department
        and persons_to_date.kontoplan_function = keys.kontoplan_function

)

select
    figures.review_id,
    figures.budget_year,
    figures.review_code,
    figures.review_label,
    figures.review_date,
    figures.is_annual_accounts,
    figures.department,
    departments.department_label,
    figures.kontoplan_function,
    functions.function_label,
    figures.adopted_budget::numeric(16, 2)                                           as adopted_budget,
    figures.ledger_budget_corrections::numeric(16, 2)                                as ledger_budget_corrections,
    figures.approved_decisions_to_date::numeric(16, 2)                               as approved_decisions_to_date,
    figures.approved_decisions_at_review::numeric(16, 2)                             as approved_decisions_at_review,
    figures.corrected_budget::numeric(16, 2)                                         as corrected_budget,
    figures.actual_to_date::numeric(16, 2)                                           as actual_to_date,
    figures.forecast_method,
    figures.history_years::integer                                                   as history_years,
    figures.year_share::numeric(12, 6)                                               as year_share,
    figures.expected_year_end::numeric(16, 2)                                        as expected_year_end,
    (figures.expected_year_end - figures.corrected_budget)::numeric(16, 2)           as deviation,
    (case when figures.corrected_budget <> 0 then
        round((figures.expected_year_end - figures.corrected_budget) / abs(figures.corrected_budget), 4)
    end)::numeric(12, 4)                                                             as deviation_pct,
    (figures.expected_year_end - figures.corrected_budget
        > {{ threshold }} / 100.0 * abs(figures.corrected_budget))                   as is_flagged_for_approval,
    figures.max_monthly_persons::integer                                             as max_monthly_persons,
    figures.as_of_date                                                               as data_as_of
from figures
left join {{ ref('dim_department') }} as departments
    on figures.department = departments.department
left join {{ ref('kontoplan_functions') }} as functions
    on figures.kontoplan_function = functions.kontoplan_function
