with

source as (

    select * from {{ source('dubu', 'services') }}

),

renamed as (

    select
        case_id::text                    as case_id,
        service_id::text                 as service_id,
        person_key::text                 as person_key,
        case_type::text                  as case_type,
        unit::text                       as organisational_unit,
        service::text                    as service_label,
        paragraph::text                  as paragraph_key,
        function::text                   as kontoplan_function,
        placement_type::text             as placement_type,
        provider::text                   as provider,
        referral_date::date              as referral_date,
        start_date::date                 as start_date,
        end_date::date                   as end_date,
        rate_type::text                  as rate_type,
        price_per_day::numeric(14, 2)    as price_per_day,
        delivery_date::date              as delivery_date,
        source_file::text                as source_file

    from source

)

select * from renamed
