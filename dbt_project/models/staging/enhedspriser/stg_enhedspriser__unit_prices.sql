with

source as (

    select * from {{ source('enhedspriser', 'unit_prices') }}

),

renamed as (

    select
        price_year::integer           as price_year,
        service_code::text            as service_code,
        service::text                 as service_label,
        paragraph::text               as paragraph_key,
        function::text                as kontoplan_function,
        unit::text                    as price_unit,
        unit_price::numeric(14, 2)    as unit_price,
        registrant_posted::text       as registrant_posted,
        delivery_date::date           as delivery_date,
        source_file::text             as source_file

    from source

)

select * from renamed
