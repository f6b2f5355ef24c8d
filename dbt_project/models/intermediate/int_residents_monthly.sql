{#-
    Residents on the first day of each month: moved in on or before the 1st (a missing
    moving-in date means resident since birth), not moved out before the 1st, not dead before
    the 1st. Age is whole years on the 1st. Sex and district are in dim_person.
    A view: person x month is by far the largest relation of the warehouse (360,000 residents
    x 72 months = 26 million rows), and nothing needs it stored: the marts read the counts of
    int_residents_aggregated_to_months and the residence flag of the person-month facts.
-#}
{{ config(materialized='view') }}
with

persons as (

    select * from {{ ref('stg_cpr__persons') }}

),

months as (

    select * from {{ ref('int_months') }}

)

select
    persons.person_key,
    months.month,
    date_part('year', age(months.month, persons.birth_date))::integer  as age_years
from persons
inner join months
    on  persons.birth_date <= months.month
    and coalesce(persons.moved_in_date, persons.birth_date) <= months.month
    and (persons.moved_out_date is null or persons.moved_out_date >= months.month)
    and (persons.death_date is null or persons.death_date >= months.month)
