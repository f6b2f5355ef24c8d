{#-
    The calendar months the warehouse reports on: from the month of the earliest benefit start
    to the month of the as-of date (the latest benefit delivery), but never more than
    var('months_of_history') months back.
-#}
with

benefit_periods as (

    select * from {{ ref('stg_ydelser__benefit_periods') }}

),

bounds as (

    select
        max(delivery_date)                           as as_of_date,
        date_trunc('month', min(start_date))::date   as first_benefit_month
    from benefit_periods

),

window_ as (

    select
        as_of_date,
        greatest(
            first_benefit_month,
            (date_trunc('month', as_of_date)
                - make_interval(months => {{ var('months_of_history', 120) | int }} - 1))::date
        )                                           as first_month,
        date_trunc('month', as_of_date)::date       as last_month
    from bounds

),

months as (

    select
        generate_series(first_month, last_month, interval '1 month')::date  as month,
        as_of_date
    from window_

)

select
    month,
    (month + interval '1 month' - interval '1 day')::date      as month_end,
    ((month + interval '1 month')::date - month)::integer       as days_in_month,
    as_of_date,
    (month + interval '1 month' - interval '1 day')::date <= as_of_date  as is_complete
from months
