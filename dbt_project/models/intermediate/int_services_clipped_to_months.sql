{#-
    One row per service record (DUBU, Sensum, health and care, the jobcenter's offers) and
    calendar month it overlaps, with the days of overlap. Like benefit periods, an open record runs to the
    as-of date and no record counts days after it. Records are matched to the service
    catalogue by source and label; the department is the catalogue's, or the department of
    the record's kontoplan function for a label the catalogue does not know.
-#}
with

dubu as (

    select * from {{ ref('stg_dubu__services') }}

),

sensum as (

    select * from {{ ref('stg_sensum__services') }}

),

health as (

    select * from {{ ref('stg_sundhed__services') }}

),

offers as (

    select * from {{ ref('stg_jobcenter__offers') }}

),

catalogue as (

    select * from {{ ref('service_catalogue') }}

),

functions as (

    select * from {{ ref('int_kontoplan_functions_mapped_to_departments') }}

),

months as (

    select * from {{ ref('int_months') }}

),

as_of as (

    select max(as_of_date) as as_of_date from months

),

records as (

    select
        'dubu'::text                  as source,
        service_id                    as service_record_id,
        person_key,
        service_label,
        paragraph_key,
        kontoplan_function,
        placement_type,
        provider,
        null::text                    as caseworker_id,
        null::numeric(14, 2)          as hours_per_week,
        referral_date,
        start_date,
        end_date
    from dubu

    union all

    select
        'sensum',
        service_id,
        person_key,
        service_label,
        paragraph_key,
        null::text,
        null::text,
        provider,
        caseworker_id,
        hours_per_week,
        referral_date,
        start_date,
        end_date
    from sensum

    union all

    select
        'sundhed',
        service_id,
        person_key,
        service_label,
        paragraph_key,
        kontoplan_function,
        null::text,
        provider,
        null::text,
        hours_per_week,
        referral_date,
        start_date,
        end_date
    from health

    union all

    -- The jobcenter's offers, matched to the catalogue by their aktiveringstype.
    select
        'jobcenter',
        offer_id,
        person_key,
        offer_label,
        null::text,
        null::text,
        null::text,
        provider,
        caseworker_id,
        hours_per_week,
        referral_date,
        start_date,
        end_date
    from offers

),

records_bounded as (

    select
        records.*,
        least(coalesce(records.end_date, as_of.as_of_date), as_of.as_of_date)  as effective_end_date
    from records
    cross join as_of

),

catalogued as (

    select
        records_bounded.source,
        records_bounded.service_record_id,
        records_bounded.person_key,
        catalogue.service_code,
        records_bounded.service_label,
        records_bounded.paragraph_key,
        coalesce(records_bounded.kontoplan_function, catalogue.kontoplan_function)  as kontoplan_function,
        coalesce(catalogue.department, functions.department, 'oevrige')             as department,
        catalogue.purpose,
        coalesce(catalogue.is_placement, records_bounded.placement_type is not null) as is_placement,
        coalesce(catalogue.counts_as_service, true)                                 as counts_as_service,
        records_bounded.placement_type,
        records_bounded.provider,
        records_bounded.caseworker_id,
        records_bounded.hours_per_week,
        records_bounded.referral_date,
        records_bounded.start_date,
        records_bounded.end_date,
        records_bounded.effective_end_date
    from records_bounded
    left join catalogue
        on  records_bounded.source = catalogue.source
        and records_bounded.service_label = catalogue.service_label
    left join functions
        on coalesce(records_bounded.kontoplan_function, catalogue.kontoplan_function) = functions.kontoplan_function

)

select
    catalogued.*,
    months.month,
    months.days_in_month,
    (
        least(catalogued.effective_end_date, months.month_end)
        - greatest(catalogued.start_date, months.month)
        + 1
    )::integer as service_days
from catalogued
inner join months
    on  catalogued.start_date <= months.month_end
    and catalogued.effective_end_date >= months.month
