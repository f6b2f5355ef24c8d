with

source as (

    select * from {{ source('jobcenter', 'conversations') }}

),

renamed as (

    select
        conversation_id::text             as conversation_id,
        person_key::text                  as person_key,
        conversation_type_id::text        as conversation_type_id,
        conversation_type::text           as conversation_type,
        conversation_form::text           as conversation_form,
        conversation_date::date           as conversation_date,
        caseworker_id::text               as caseworker_id,
        status::text                      as status,
        delivery_date::date               as delivery_date,
        source_file::text                 as source_file

    from source

)

select * from renamed
