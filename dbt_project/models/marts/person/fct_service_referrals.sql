{#-
    Tempo (domain brief section 4): one row per service record (DUBU, Sensum, health and care,
    the jobcenter's offers) or programme enrolment with a referral date, with the days from
    referral (henvisning) to the start of the service.
-#}
with

unclipped as (

    select 'dubu'::text as source, service_id as service_record_id, person_key, service_label, referral_date, start_date
    from {{ ref('stg_dubu__services') }}
    union all
    select 'sensum', service_id, person_key, service_label, referral_date, start_date
    from {{ ref('stg_sensum__services') }}
    union all
    select 'sundhed', service_id, person_key, service_label, referral_date, start_date
    from {{ ref('stg_sundhed__services') }}
    union all
    select 'jobcenter', offer_id, person_key, offer_label, referral_date, start_date
    from {{ ref('stg_jobcenter__offers') }}

),

catalogue as (

    select * from {{ ref('service_catalogue') }}

),

records as (

    select
        unclipped.source,
        unclipped.service_record_id,
        unclipped.person_key,
        catalogue.service_code,
        unclipped.service_label,
        catalogue.department,
        unclipped.referral_date,
        unclipped.start_date
    from unclipped
    left join catalogue
        on  unclipped.source = catalogue.source
        and unclipped.service_label = catalogue.service_label

    union all

    select
        'helhed',
        enrolments.enrolment_id,
        enrolments.person_key,
        enrolments.programme_code,
        catalogue.service_label,
        catalogue.department,
        enrolments.referral_date,
        enrolments.start_date
    from {{ ref('stg_helhed__enrolments') }} as enrolments
    left join catalogue
        on enrolments.programme_code = catalogue.service_code

)

select
    source,
    service_record_id,
    person_key,
    service_code,
    service_label,
    department,
    referral_date,
    start_date,
    extract(year from start_date)::integer   as start_year,
    (start_date - referral_date)             as days_referral_to_start
from records
where referral_date is not null
