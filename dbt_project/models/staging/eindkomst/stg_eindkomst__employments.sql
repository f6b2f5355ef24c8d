with

source as (

    select * from {{ source('eindkomst', 'employments') }}

),

renamed as (

    select
        person_key::text                  as person_key,
        employer_cvr::text                as employer_cvr,
        employment_type::text             as employment_type,
        start_date::date                  as start_date,
        end_date::date                    as end_date,
        hours_per_week::numeric(14, 2)    as hours_per_week,
        delivery_date::date               as delivery_date,
        source_file::text                 as source_file

    from source

)

select * from renamed
