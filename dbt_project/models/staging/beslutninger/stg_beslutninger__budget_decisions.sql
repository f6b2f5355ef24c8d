with

source as (

    select * from {{ source('beslutninger', 'budget_decisions') }}

),

renamed as (

    select
        decision_id::text           as decision_id,
        review_id::text             as review_id,
        programme::text             as programme_code,
        from_department::text       as from_department,
        to_department::text         as to_department,
        function::text              as kontoplan_function,
        amount::numeric(14, 2)      as amount,
        decided_on::date            as decided_on,
        note::text                  as note,
        delivery_date::date         as delivery_date,
        source_file::text           as source_file

    from source

)

select * from renamed
