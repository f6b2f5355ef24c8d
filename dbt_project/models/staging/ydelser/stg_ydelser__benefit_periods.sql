with

source as (

    select * from {{ source('ydelser', 'benefit_periods') }}

),

renamed as (

    select
        period_id::text                as period_id,
        person_key::text               as person_key,
        benefit_code::text             as benefit_group,
        start_date::date               as start_date,
        end_date::date                 as end_date,
        rate::numeric(14, 2)           as rate,
        amount::numeric(14, 2)         as amount,
        amount_unit::text              as amount_unit,
        visitation_category::text      as visitation_category,
        delivery_date::date            as delivery_date,
        source_file::text              as source_file

    from source

)

select * from renamed
