{#-
    A programme's economic baseline against its actual cost per department and budget review
    (the citizens enrolled between 1 January and the review date; fct_programme_baseline_by_department),
    for the dashboard Økonomi og budgetopfølgning. Suppression: every amount of a programme and
    review is hidden when it has fewer than var('min_cell_size') citizens; a department's amounts
    when 1-4 of them carry its baseline or actual cost (the same rule hides the department's rows
    of the separate-unit model in economy_budget_reallocation_proposals, and with them the unit's
    total). participants is null below 5.
-#}
{%- set min_cell = var('min_cell_size', 5) | int %}

with

baseline as (

    select * from {{ ref('fct_programme_baseline_by_department') }}

),

flagged as (

    select
        baseline.*,
        {{ is_small_cell('participants') }}
            or persons_with_baseline_cost between 1 and {{ min_cell - 1 }}
            or persons_with_actual_cost between 1 and {{ min_cell - 1 }}              as is_hidden
    from baseline

)

select
    flagged.programme_code,
    programmes.service_label                                                        as programme_label,
    flagged.review_id,
    reviews.review_label,
    flagged.budget_year,
    flagged.review_date,
    flagged.department,
    departments.department_label,
    ({{ suppress_small('flagged.participants') }})::integer                         as participants,
    (case when not flagged.is_hidden then flagged.baseline_to_date end)::numeric(16, 2)  as baseline_to_date,
    (case when not flagged.is_hidden then flagged.actual_to_date end)::numeric(16, 2)    as actual_to_date,
    (case when not flagged.is_hidden then flagged.baseline_to_date - flagged.actual_to_date end)::numeric(16, 2)
                                                                                    as below_baseline,
    flagged.is_hidden                                                               as is_suppressed,
    flagged.data_as_of
from flagged
inner join {{ ref('int_budget_reviews') }} as reviews
    on flagged.review_id = reviews.review_id
left join {{ ref('dim_department') }} as departments
    on flagged.department = departments.department
left join {{ ref('service_catalogue') }} as programmes
    on  programmes.service_code = flagged.programme_code
    and programmes.source = 'helhed'
