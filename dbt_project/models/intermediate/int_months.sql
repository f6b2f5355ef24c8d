{#-
    The calendar months the warehouse reports on: from the month of the earliest benefit start
    to the month of the as-of date (the latest benefit delivery, an empty one included: audit.delivery_files), but never more than
    var('months_of_history') months back, and not before the first month of the flow data
    (ledger postings, co-financing bills) when they are delivered: those exist only for the
    history the sources cover, while benefit periods and services that were already running
    reach further back with only the part of the population that was still on them.

    The month of the as-of date is usually incomplete: days_covered is the days from its
    first day to the as-of date (as-of date - month + 1), and every rate per day of the
    period (Jobindsats' full-time persons: benefit days / days in the period) divides by it,
    not by the calendar length (macro month_coverage).
-#}
with

benefit_periods as (

    select * from {{ ref('stg_ydelser__benefit_periods') }}

),

benefit_deliveries as (

    -- A quiet night's benefit file may be empty; the data are still as of its date.
    select max(delivery_date) as last_delivery_date
    from {{ source('audit', 'delivery_files') }}
    where entity = 'ydelser.benefit_periods' and status = 'loaded'

),

flow_start as (

    select least(
        (select min(coalesce(period_from, period_to)) from {{ ref('stg_oekonomi__postings') }}),
        (select min(month) from {{ ref('stg_sundhed__cofinancing') }})
    ) as first_flow_date

),

bounds as (

    select
        greatest(max(benefit_periods.delivery_date), max(benefit_deliveries.last_delivery_date))
                                                                          as as_of_date,
        greatest(
            date_trunc('month', min(benefit_periods.start_date))::date,
            coalesce(date_trunc('month', max(flow_start.first_flow_date))::date, '-infinity'::date)
        )                                                                 as first_data_month
    from benefit_periods
    cross join flow_start
    cross join benefit_deliveries

),

window_ as (

    select
        as_of_date,
        greatest(
            first_data_month,
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
    {{ days_covered('month', 'as_of_date') }}                   as days_covered,
    as_of_date,
    {{ is_complete_month('month', 'as_of_date') }}              as is_complete
from months
