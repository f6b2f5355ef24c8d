{#-
    The budget reviews (budgetopfølgninger) of every budget year with a delivered budget: the
    calendar rows of the seed budget_review_calendar that apply to every year, each replaced by
    a row with the same code for that year when there is one. A review is taken as of the last
    day of its month; review_id is `<budget year>-<review code>`. A review is reported once the
    data reach its date (the as-of date of int_months) and the ledger covers its year from
    January (actual to date would otherwise miss months).
-#}
with

calendar as (

    select * from {{ ref('budget_review_calendar') }}

),

budget_years as (

    select distinct budget_year from {{ ref('stg_oekonomi__budgets') }}

),

months as (

    select
        min(month)          as first_month,
        max(as_of_date)     as as_of_date
    from {{ ref('int_months') }}

),

candidates as (

    select
        budget_years.budget_year,
        calendar.review_code,
        calendar.review_label,
        calendar.review_month,
        calendar.is_annual_accounts,
        calendar.budget_year is not null                  as is_year_specific
    from budget_years
    inner join calendar
        on calendar.budget_year is null or calendar.budget_year = budget_years.budget_year

),

resolved as (

    select distinct on (budget_year, review_code) *
    from candidates
    order by budget_year, review_code, is_year_specific desc

),

dated as (

    select
        budget_year || '-' || review_code                                             as review_id,
        budget_year,
        review_code,
        review_label,
        make_date(budget_year, review_month, 1)                                        as review_month,
        (make_date(budget_year, review_month, 1) + interval '1 month - 1 day')::date   as review_date,
        review_month                                                                   as months_elapsed,
        is_annual_accounts
    from resolved

)

select
    dated.review_id,
    dated.budget_year,
    dated.review_code,
    dated.review_label,
    dated.review_month,
    dated.review_date,
    dated.months_elapsed,
    row_number() over (partition by dated.budget_year order by dated.review_month)::integer  as review_number,
    lag(dated.review_id) over (partition by dated.budget_year order by dated.review_month)  as previous_review_id,
    round(
        (dated.review_date - make_date(dated.budget_year, 1, 1) + 1)::numeric
        / (make_date(dated.budget_year + 1, 1, 1) - make_date(dated.budget_year, 1, 1)),
        6
    )::numeric(8, 6)                                                                         as linear_year_share,
    dated.is_annual_accounts,
    dated.review_date <= months.as_of_date
        and make_date(dated.budget_year, 1, 1) >= months.first_month                          as is_reported,
    months.as_of_date
from dated
cross join months
