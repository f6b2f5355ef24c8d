with

source as (

    select * from {{ source('helhed', 'survey') }}

),

renamed as (

    select
        enrolment_id::text          as enrolment_id,
        answer_date::date           as answer_date,
        joint_plan::text            as joint_plan_received,
        involvement::integer        as involvement,
        closer_to_goals::integer    as closer_to_goals,
        delivery_date::date         as delivery_date,
        source_file::text           as source_file

    from source

)

select * from renamed
