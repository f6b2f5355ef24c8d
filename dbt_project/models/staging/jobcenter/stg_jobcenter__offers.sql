with

source as (

    select * from {{ source('jobcenter', 'offers') }}

),

renamed as (

    select
        offer_id::text                    as offer_id,
        person_key::text                  as person_key,
        offer_type::text                  as offer_label,
        referral_date::date               as referral_date,
        start_date::date                  as start_date,
        end_date::date                    as end_date,
        hours_per_week::numeric(14, 2)    as hours_per_week,
        provider::text                    as provider,
        caseworker_id::text               as caseworker_id,
        status::text                      as status,
        delivery_date::date               as delivery_date,
        source_file::text                 as source_file

    from source

)

select * from renamed
