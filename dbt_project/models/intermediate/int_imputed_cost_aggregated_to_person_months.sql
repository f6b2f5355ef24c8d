{#-
    Imputed cost: activity volume x unit price for services whose unit price says they are
    not posted per person (Registrantbogført = Nej), per person, month, kontoplan function
    and department (both from the unit price), with the price of the month's year: days x
    price per day, or days x visited hours per week x price per hour / 7. Records are matched
    to unit prices by code (benefit groups, programmes) or by label (DUBU, Sensum, health, the
    jobcenter's offers by their aktiveringstype). The jobcenter's conversations held (status
    Afholdt, up to the as-of date) are priced per conversation: the unit price of the catalogue's
    conversation row (unit `conversation`). Regional co-financing is billed per person and
    month, so its amount is the imputed cost, on the function and department of the
    catalogue's co-financing row.

    Exact arithmetic, one rounding: every record-month's amount is kept exact (the hourly
    ones as days x hours x price, divided by 7 only once, after summing), and the sum per
    person, month, function and department is rounded to the øre once. Dividing by 7 before
    multiplying by the price, or rounding each record, loses or adds half-øre that no
    recomputation from the records can find again.
    Incremental by month (macros/incremental.sql): prices are per year, so a changed price
    moves the batch to January of its year.
-#}
{{ config(**incremental_by_month_config(drop_months_before_window=false)) }}

{%- set batch_start = incremental_batch_start(entities=cost_entities()) %}
with

prices as (

    select * from {{ ref('int_unit_prices_mapped_to_departments') }}
    where not is_registrant_posted

),

benefit_months as (

    select * from {{ ref('int_benefit_periods_clipped_to_months') }}
    where {{ in_batch('month', batch_start) }}

),

service_months as (

    select * from {{ ref('int_services_clipped_to_months') }}
    where {{ in_batch('month', batch_start) }}

),

enrolment_months as (

    select * from {{ ref('int_programme_enrolments_clipped_to_months') }}
    where {{ in_batch('month', batch_start) }}

),

cofinancing as (

    select * from {{ ref('stg_sundhed__cofinancing') }}
    where {{ in_batch('month', batch_start) }}

),

conversations as (

    -- Conversations held, in the reported months up to the as-of date.
    select conversations.person_key, months.month
    from {{ ref('stg_jobcenter__conversations') }} as conversations
    inner join {{ ref('int_months') }} as months
        on  date_trunc('month', conversations.conversation_date)::date = months.month
        and conversations.conversation_date <= months.as_of_date
    where conversations.status = 'Afholdt'
      and {{ in_batch('months.month', batch_start) }}

),

conversation_service as (

    select service_code
    from {{ ref('service_catalogue') }}
    where source = 'jobcenter' and unit = 'conversation'

),

cofinancing_service as (

    select
        catalogue.kontoplan_function,
        coalesce(functions.department, catalogue.department)  as department
    from {{ ref('service_catalogue') }} as catalogue
    left join {{ ref('int_kontoplan_functions_mapped_to_departments') }} as functions
        on catalogue.kontoplan_function = functions.kontoplan_function
    where catalogue.service_code = 'medfinansiering'

),

priced as (

    -- Exact amounts: day_amount in kroner, hour_amount_x7 = 7 x the hourly amount (so the
    -- only division, by 7, happens once per person, month and function below).
    select
        benefit_months.person_key,
        benefit_months.month,
        prices.kontoplan_function,
        prices.department,
        prices.price_unit = 'day'                         as is_priced,
        case prices.price_unit when 'day' then benefit_months.benefit_days * prices.unit_price else 0 end
                                                          as day_amount,
        0::numeric                                        as hour_amount_x7
    from benefit_months
    inner join prices
        on  prices.service_code = benefit_months.benefit_group
        and prices.price_year = extract(year from benefit_months.month)

    union all

    select
        service_months.person_key,
        service_months.month,
        prices.kontoplan_function,
        prices.department,
        prices.price_unit in ('day', 'hour'),
        case prices.price_unit when 'day' then service_months.service_days * prices.unit_price else 0 end,
        case prices.price_unit
            when 'hour' then service_months.service_days * coalesce(service_months.hours_per_week, 0)
                             * prices.unit_price
            else 0
        end
    from service_months
    inner join prices
        on  prices.service_label = service_months.service_label
        and prices.price_year = extract(year from service_months.month)

    union all

    select
        enrolment_months.person_key,
        enrolment_months.month,
        prices.kontoplan_function,
        prices.department,
        prices.price_unit = 'day',
        case prices.price_unit when 'day' then enrolment_months.enrolment_days * prices.unit_price else 0 end,
        0
    from enrolment_months
    inner join prices
        on  prices.service_code = enrolment_months.programme_code
        and prices.price_year = extract(year from enrolment_months.month)

    union all

    select
        conversations.person_key,
        conversations.month,
        prices.kontoplan_function,
        prices.department,
        prices.price_unit = 'conversation',
        case prices.price_unit when 'conversation' then prices.unit_price else 0 end,
        0
    from conversations
    cross join conversation_service
    inner join prices
        on  prices.service_code = conversation_service.service_code
        and prices.price_year = extract(year from conversations.month)

    union all

    select
        cofinancing.person_key,
        cofinancing.month,
        cofinancing_service.kontoplan_function,
        cofinancing_service.department,
        true,
        cofinancing.amount,
        0
    from cofinancing
    cross join cofinancing_service

)

select
    person_key,
    month,
    kontoplan_function,
    department,
    round(sum(day_amount) + sum(hour_amount_x7) / 7, 2)::numeric(16, 2)  as imputed_cost
from priced
where is_priced
group by 1, 2, 3, 4
