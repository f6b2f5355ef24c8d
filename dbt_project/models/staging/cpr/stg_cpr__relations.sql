with

source as (

    select * from {{ source('cpr', 'relations') }}

),

renamed as (

    select
        person_key::text            as child_person_key,
        relation::text              as relation,
        related_person_key::text    as parent_person_key,
        delivery_date::date         as delivery_date,
        source_file::text           as source_file

    from source

)

select * from renamed
