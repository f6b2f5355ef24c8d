with

source as (

    select * from {{ source('sensum', 'services') }}

),

renamed as (

    select
        case_id::text                     as case_id,
        service_id::text                  as service_id,
        person_key::text                  as person_key,
        service::text                     as service_label,
        paragraph::text                   as paragraph_key,
        start_date::date                  as start_date,
        end_date::date                    as end_date,
        status::text                      as status,
        provider::text                    as provider,
        caseworker_id::text               as caseworker_id,
        unit::text                        as organisational_unit,
        hours_per_week::numeric(14, 2)    as hours_per_week,
        referral_date::date               as referral_date,
        delivery_date::date               as delivery_date,
        source_file::text                 as source_file

    from source

)

select * from renamed
