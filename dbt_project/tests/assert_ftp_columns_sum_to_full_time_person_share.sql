{{ config(severity='error') }}
{#-
    The ftp_<benefit_group> columns of a person-month add up to its full_time_person_share.
    Each is rounded to 4 decimals, so allow 0.00005 per column.
-#}
with

person_months as (

    select * from {{ ref('fct_person_month') }}

),

ftp_columns as (

    select
        person_months.person_key,
        person_months.month,
        person_months.full_time_person_share,
        columns_.key          as column_name,
        columns_.value::numeric as ftp
    from person_months
    cross join lateral jsonb_each_text(to_jsonb(person_months)) as columns_
    where columns_.key like 'ftp\_%'

),

summed as (

    select
        person_key,
        month,
        full_time_person_share,
        sum(ftp)   as sum_of_ftp,
        count(*)   as n_columns
    from ftp_columns
    group by person_key, month, full_time_person_share

)

select *
from summed
where abs(sum_of_ftp - full_time_person_share) > 0.00005 * n_columns
