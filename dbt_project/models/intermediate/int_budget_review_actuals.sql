{#-
    Actual to date and expected year-end per reported budget review, department and kontoplan
    function.

    Actual to date: the signed ledger from 1 January to the review date, by the period each
    posting covers (int_ledger_postings_spread_to_months: a posting's amount spread over the
    days of its period, so a posting for 15 March - 14 April counts 17/31 by 31 March). The
    ledger has no booking date, so a posting delivered after the review that covers a period
    before it counts too: the review is restated as late postings arrive.

    Expected year-end = actual to date / year share, where the year share is the seasonal
    profile: of the function's spending in the last (at most) var('budget_forecast_history_years')
    complete calendar years before the budget year, the share spent by the end of the review's
    month (sum over those years of the spending to that month / sum of their full-year
    spending). It falls back to the linear share (days elapsed / days in the year) when there
    is no complete earlier year, the function spent nothing in them, or their spending to that
    month was not positive, and always when var('budget_forecast_method') is `linear`. At the
    annual accounts the share is 1 either way.
-#}
{%- set history_years = var('budget_forecast_history_years', 3) | int %}
{%- set method = var('budget_forecast_method', 'seasonal') %}
{%- if method not in ('seasonal', 'linear') %}
    {{ exceptions.raise_compiler_error("budget_forecast_method must be 'seasonal' or 'linear', got " ~ method) }}
{%- endif %}

with

reviews as (

    select * from {{ ref('int_budget_reviews') }}
    where is_reported

),

monthly as (

    select
        month,
        department,
        kontoplan_function,
        sum(amount)                                        as amount
    from {{ ref('int_ledger_postings_spread_to_months') }}
    group by 1, 2, 3

),

complete_years as (

    -- Calendar years the warehouse's months cover in full, each month complete.
    select extract(year from month)::integer               as year
    from {{ ref('int_months') }}
    group by 1
    having count(*) = 12 and bool_and(is_complete)

),

to_date as (

    select
        reviews.review_id,
        monthly.department,
        monthly.kontoplan_function,
        sum(monthly.amount)                                as actual_to_date
    from reviews
    inner join monthly
        on  monthly.month >= make_date(reviews.budget_year, 1, 1)
        and monthly.month <= reviews.review_month
    group by 1, 2, 3

),

history_windows as (

    select
        reviews.review_id,
        reviews.months_elapsed,
        complete_years.year                                as history_year
    from reviews
    inner join complete_years
        on complete_years.year between reviews.budget_year - {{ history_years }} and reviews.budget_year - 1

),

history_counts as (

    select review_id, count(*)::integer                    as history_years
    from history_windows
    group by 1

),

history as (

    select
        history_windows.review_id,
        monthly.department,
        monthly.kontoplan_function,
        sum(monthly.amount) filter (
            where extract(month from monthly.month) <= history_windows.months_elapsed
        )                                                  as history_to_month,
        sum(monthly.amount)                                as history_full_year
    from history_windows
    inner join monthly
        on extract(year from monthly.month) = history_windows.history_year
    group by 1, 2, 3

),

combined as (

    select
        reviews.review_id,
        coalesce(to_date.department, history.department)                  as department,
        coalesce(to_date.kontoplan_function, history.kontoplan_function)  as kontoplan_function,
        coalesce(to_date.actual_to_date, 0)                               as actual_to_date,
        coalesce(history_counts.history_years, 0)                         as history_years,
        history.history_to_month,
        history.history_full_year,
        reviews.linear_year_share
    from reviews
    inner join (
        select review_id, department, kontoplan_function from to_date
        union
        select review_id, department, kontoplan_function from history
    ) as keys
        on reviews.review_id = keys.review_id
    left join to_date
        on  keys.review_id = to_date.review_id
        and keys.department = to_date.department
        and keys.kontoplan_function = to_date.kontoplan_function
    left join history
        on  keys.review_id = history.review_id
        and keys.department = history.department
        and keys.kontoplan_function = history.kontoplan_function
    left join history_counts
        on reviews.review_id = history_counts.review_id

),

shares as (

    select
        combined.*,
        {{ "true" if method == "seasonal" else "false" }}
            and history_full_year > 0 and history_to_month > 0            as has_seasonal_profile
    from combined

)

select
    review_id,
    department,
    kontoplan_function,
    actual_to_date::numeric(16, 2)                                        as actual_to_date,
    history_years,
    history_to_month::numeric(16, 2)                                      as history_to_month,
    history_full_year::numeric(16, 2)                                     as history_full_year,
    case when has_seasonal_profile then 'seasonal' else 'linear' end      as forecast_method,
    (case
        when has_seasonal_profile then round(history_to_month / history_full_year, 6)
        else linear_year_share
    end)::numeric(12, 6)                                                  as year_share,
    round(actual_to_date / case
        when has_seasonal_profile then round(history_to_month / history_full_year, 6)
        else linear_year_share
    end, 2)::numeric(16, 2)                                               as expected_year_end
from shares
