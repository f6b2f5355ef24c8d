with

source as (

    select * from {{ source('oekonomi', 'budgets') }}

),

renamed as (

    select
        budget_year::integer      as budget_year,
        account::text             as account,
        cost_centre::text         as cost_centre,
        budget_type::text         as budget_type,
        amount::numeric(14, 2)    as amount,
        delivery_date::date       as delivery_date,
        source_file::text         as source_file

    from source

)

select * from renamed
