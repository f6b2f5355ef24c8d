with

source as (

    select * from {{ source('oekonomi', 'postings') }}

),

renamed as (

    select
        account::text                 as account,
        cost_centre::text             as cost_centre,
        wbs_element::text             as wbs_element,
        debit_credit::text            as debit_credit,
        amount::numeric(14, 2)        as amount,
        posting_text::text            as posting_text,
        recipient_person_key::text    as recipient_person_key,
        recipient_kind::text          as recipient_kind,
        period_from::date             as period_from,
        period_to::date               as period_to,
        quantity::numeric(14, 2)      as quantity,
        quantity_unit::text           as quantity_unit,
        voucher_no::text              as voucher_no,
        voucher_line::integer         as voucher_line,
        delivery_date::date           as delivery_date,
        source_file::text             as source_file

    from source

)

select * from renamed
