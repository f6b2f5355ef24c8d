with

source as (

    select * from {{ source('sundhed', 'services') }}

),

renamed as (

    select
        person_key::text                  as person_key,
        service_id::text                  as service_id,
        service::text                     as service_label,
        paragraph::text                   as paragraph_key,
        function::text                    as kontoplan_function,
        start_date::date                  as start_date,
        end_date::date                    as end_date,
        hours_per_week::numeric(14, 2)    as hours_per_week,
        provider::text                    as provider,
        referral_date::date               as referral_date,
        delivery_date::date               as delivery_date,
        source_file::text                 as source_file

    from source

)

select * from renamed
