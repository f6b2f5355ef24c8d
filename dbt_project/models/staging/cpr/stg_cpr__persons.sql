with

source as (

    select * from {{ source('cpr', 'persons') }}

),

renamed as (

    select
        person_key::text     as person_key,
        birth_date::date     as birth_date,
        sex::text            as sex,
        postal_code::text    as postal_code,
        district::text       as district,
        moved_in::date       as moved_in_date,
        moved_out::date      as moved_out_date,
        death_date::date     as death_date,
        delivery_date::date  as delivery_date,
        source_file::text    as source_file

    from source

)

select * from renamed
