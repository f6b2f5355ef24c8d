with

persons as (

    select * from {{ ref('stg_cpr__persons') }}

)

select
    person_key,
    date_trunc('month', birth_date)::date  as birth_month,
    sex,
    district
from persons
