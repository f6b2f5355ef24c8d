{#-
    Every pseudonymous person key that can give a person-month (population extract, benefit
    periods, services, co-financing, ledger recipients, programme enrolments), with its
    64-bit person_id (macro person_id). The big person-month models work on person_id and
    int_person_month_spine maps it back to the key.
-#}
with

keys as (

    select person_key from {{ ref('stg_cpr__persons') }}
    union
    select person_key from {{ ref('stg_ydelser__benefit_periods') }}
    union
    select person_key from {{ ref('stg_dubu__services') }}
    union
    select person_key from {{ ref('stg_sensum__services') }}
    union
    select person_key from {{ ref('stg_sundhed__services') }}
    union
    select person_key from {{ ref('stg_sundhed__cofinancing') }}
    union
    select recipient_person_key from {{ ref('stg_oekonomi__postings') }} where recipient_person_key is not null
    union
    select person_key from {{ ref('stg_helhed__enrolments') }}

)

select
    {{ person_id('person_key') }}  as person_id,
    person_key
from keys
