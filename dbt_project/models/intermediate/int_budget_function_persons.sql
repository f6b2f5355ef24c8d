{#-
    The persons with cost attributed to a kontoplan function (direct or imputed) in a calendar
    year, with the first month they had some: a person counts towards a budget review's year to
    date when that month is on or before the review's month. Used to count the distinct persons
    behind a function's actual to date, and behind several functions together, for the
    suppression of economy_budget_reviews.
-#}
with

attributed as (

    select person_key, month, department, kontoplan_function
    from {{ ref('int_direct_cost_aggregated_to_person_months') }}
    union all
    select person_key, month, department, kontoplan_function
    from {{ ref('int_imputed_cost_aggregated_to_person_months') }}

)

select
    extract(year from month)::integer      as budget_year,
    department,
    kontoplan_function,
    person_key,
    min(month)                             as first_month
from attributed
group by 1, 2, 3, 4
