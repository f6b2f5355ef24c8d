with

source as (

    select * from {{ source('sundhed', 'cofinancing') }}

),

renamed as (

    select
        person_key::text             as person_key,
        to_date(month, 'YYYY-MM')    as month,
        amount::numeric(14, 2)       as amount,
        delivery_date::date          as delivery_date,
        source_file::text            as source_file

    from source

)

select * from renamed
