{{ config(severity='error') }}
{#-
    The ftp_<benefit_group> columns of a person-month add up to its full_time_person_share.
    Each is rounded to 4 decimals, so allow 0.00005 per column. The columns are read from
    the built table, so the test follows the benefit_groups seed.
-#}
{%- set ftp_columns = [] -%}
{%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(ref('fct_person_month')) -%}
        {%- if column.name.startswith('ftp_') -%}
            {%- do ftp_columns.append(column.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if ftp_columns | length == 0 -%}
        {{ exceptions.raise_compiler_error("fct_person_month has no ftp_ columns") }}
    {%- endif -%}
{%- endif -%}

with

person_months as (

    select * from {{ ref('fct_person_month') }}

),

summed as (

    select
        person_key,
        month,
        full_time_person_share,
        {{ ftp_columns | join(' + ') if ftp_columns else '0' }} as sum_of_ftp
    from person_months

)

select *
from summed
where abs(sum_of_ftp - full_time_person_share) > 0.00005 * {{ [ftp_columns | length, 1] | max }}
