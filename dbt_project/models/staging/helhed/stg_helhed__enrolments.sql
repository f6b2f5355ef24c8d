with

source as (

    select * from {{ source('helhed', 'enrolments') }}

),

renamed as (

    select
        enrolment_id::text     as enrolment_id,
        person_key::text       as person_key,
        programme::text        as programme_code,
        referral_date::date    as referral_date,
        start_date::date       as start_date,
        end_date::date         as end_date,
        coordinator::text      as coordinator_id,
        plan_date::date        as joint_plan_date,
        delivery_date::date    as delivery_date,
        source_file::text      as source_file

    from source

)

select * from renamed
