with

source as (

    select * from {{ source('helhed', 'network_meetings') }}

),

renamed as (

    select
        enrolment_id::text      as enrolment_id,
        meeting_date::date      as meeting_date,
        departments::integer    as departments_present,
        delivery_date::date     as delivery_date,
        source_file::text       as source_file

    from source

)

select * from renamed
