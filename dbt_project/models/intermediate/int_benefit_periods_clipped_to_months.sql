{#-
    One row per benefit period and calendar month it overlaps. benefit_days counts the days of
    [start_date, effective_end_date] inside the month, both ends inclusive. An open period
    (end_date null) runs to the as-of date; no period is counted past the as-of date.
-#}
with

benefit_periods as (

    select * from {{ ref('stg_ydelser__benefit_periods') }}

),

months as (

    select * from {{ ref('int_months') }}

),

as_of as (

    select max(as_of_date) as as_of_date from months

),

periods_bounded as (

    select
        benefit_periods.period_id,
        benefit_periods.person_key,
        benefit_periods.benefit_group,
        benefit_periods.visitation_category,
        benefit_periods.start_date,
        benefit_periods.end_date,
        least(coalesce(benefit_periods.end_date, as_of.as_of_date), as_of.as_of_date)
            as effective_end_date
    from benefit_periods
    cross join as_of

),

clipped as (

    select
        periods_bounded.period_id,
        periods_bounded.person_key,
        periods_bounded.benefit_group,
        periods_bounded.visitation_category,
        periods_bounded.start_date,
        periods_bounded.end_date,
        periods_bounded.effective_end_date,
        months.month,
        months.days_in_month,
        months.days_covered,
        (
            least(periods_bounded.effective_end_date, months.month_end)
            - greatest(periods_bounded.start_date, months.month)
            + 1
        )::integer as benefit_days
    from periods_bounded
    inner join months
        on  periods_bounded.start_date <= months.month_end
        and periods_bounded.effective_end_date >= months.month

)

select * from clipped
