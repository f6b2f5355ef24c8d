{#-
    Persons with a benefit day in the month by the visitation status of their last benefit
    period overlapping the month (fct_person_month also has months without benefits: those
    rows are left out):
    - the period's visitation category (jobparat, aktivitetsparat, uddannelsesparat) when it
      carries one;
    - `ikke visiteret` (visitation_category null, the visitation_categories seed's null row)
      when it carries none although the benefit group is one the jobcenter visits
      (benefit_groups.has_visitation);
    - `ikke relevant for ydelsen` (visitation_category `ikke_relevant`) when it carries none
      and visitation does not apply to the group (sygedagpenge, fleksjob, førtidspension ...).
    Every month has a row per status, 0 included (the zero rule); small cells are suppressed.
    The month of the as-of date counts the days up to it only (is_complete_month false).
-#}
{%- set not_relevant_code = 'ikke_relevant' %}
{%- set not_relevant_label = 'ikke relevant for ydelsen' %}

with

person_months as (

    select * from {{ ref('fct_person_month') }}

),

visitation_categories as (

    select * from {{ ref('visitation_categories') }}

),

months as (

    select * from {{ ref('int_months') }}

),

statuses as (

    -- The delivered categories and "ikke visiteret" from the seed, plus the derived status
    -- for groups without visitation (not a code a source delivers, so not in the seed).
    select visitation_category, visitation_label from visitation_categories
    union all
    select '{{ not_relevant_code }}', '{{ not_relevant_label }}'

),

classified as (

    select
        month,
        case
            when visitation_category is null and not coalesce(is_visitation_relevant, false)
                then '{{ not_relevant_code }}'
            else visitation_category
        end as visitation_category
    from person_months
    where benefit_days > 0

),

aggregated as (

    select
        month,
        visitation_category,
        count(*) as persons
    from classified
    group by month, visitation_category

),

grid as (

    select
        months.month,
        months.is_complete,
        months.days_covered,
        statuses.visitation_category,
        statuses.visitation_label,
        coalesce(aggregated.persons, 0)  as persons
    from months
    cross join statuses
    left join aggregated
        on  aggregated.month = months.month
        and aggregated.visitation_category is not distinct from statuses.visitation_category

)

select
    month,
    visitation_category,
    visitation_label,
    ({{ suppress_small('persons') }})::integer  as persons,
    {{ is_small_cell('persons') }}              as is_suppressed,
    is_complete                                 as is_complete_month,
    days_covered
from grid
