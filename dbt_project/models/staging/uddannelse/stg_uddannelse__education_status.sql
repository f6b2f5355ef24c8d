with

source as (

    select * from {{ source('uddannelse', 'education_status') }}

),

renamed as (

    select
        person_key::text       as person_key,
        status::text           as education_status,
        education::text        as education_type,
        start_date::date       as start_date,
        end_date::date         as end_date,
        delivery_date::date    as delivery_date,
        source_file::text      as source_file

    from source

)

select * from renamed
