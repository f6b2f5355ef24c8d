with

source as (

    select * from {{ source('helhed', 'progression') }}

),

renamed as (

    select
        enrolment_id::text     as enrolment_id,
        score_date::date       as score_date,
        marker::integer        as marker,
        score::integer         as score,
        delivery_date::date    as delivery_date,
        source_file::text      as source_file

    from source

)

select * from renamed
