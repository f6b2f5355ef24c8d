{{ config(severity='error') }}
{#- No count of persons in a public mart is shown when it is between 1 and min_cell_size - 1. -#}
{%- set min_cell_size = var('min_cell_size', 5) | int -%}
with

cells as (

    select 'employment_benefits_monthly' as mart, month, 'persons' as column_name, persons as n
    from {{ ref('employment_benefits_monthly') }}

    union all

    select 'employment_visitation_monthly', month, 'persons', persons
    from {{ ref('employment_visitation_monthly') }}

    union all

    select 'employment_self_support_monthly', month, 'residents_16_64', residents_16_64
    from {{ ref('employment_self_support_monthly') }}

    union all

    select 'employment_self_support_monthly', month, 'self_supporting', self_supporting
    from {{ ref('employment_self_support_monthly') }}

    union all

    -- The complement is derivable by subtraction, so it is a cell as well.
    select 'employment_self_support_monthly', month, 'residents_not_self_supporting',
           residents_16_64 - self_supporting
    from {{ ref('employment_self_support_monthly') }}

)

select *
from cells
where n > 0 and n < {{ min_cell_size }}
