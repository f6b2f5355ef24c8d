{#-
    Persons with a benefit day in the month by the visitation category of their last benefit
    period overlapping the month (fct_person_month also has months without benefits: those
    rows are left out). A null category (the last period carries none) is a row of
    its own, labelled `ikke visiteret` by the visitation_categories seed.
-#}
with

person_months as (

    select * from {{ ref('fct_person_month') }}

),

visitation_categories as (

    select * from {{ ref('visitation_categories') }}

),

aggregated as (

    select
        month,
        visitation_category,
        count(*) as persons
    from person_months
    where benefit_days > 0
    group by month, visitation_category

)

select
    aggregated.month,
    aggregated.visitation_category,
    visitation_categories.visitation_label,
    ({{ suppress_small('aggregated.persons') }})::integer  as persons,
    {{ is_small_cell('aggregated.persons') }}              as is_suppressed
from aggregated
inner join visitation_categories
    on aggregated.visitation_category is not distinct from visitation_categories.visitation_category
