{#-
    Budget reallocation proposals per programme and review under both models, with their
    intervals (fct_budget_reallocation_proposals), for the dashboard Økonomi og budgetopfølgning.
    Tagged freed_resources: rebuilt with it after the evaluation step.

    Suppression (every amount of the row null, is_suppressed true):
    - every row of a programme and review with fewer than var('min_cell_size') citizens;
    - a department's separate-unit row when 1-4 persons stand behind it (baseline: the citizens
      with baseline cost in the department; borgerandel: the citizens moved from it), and then
      the unit's row of that variant, which is minus their sum.
    proposal_amount (and its interval) is also null when the same row of the year's previous
    review is hidden: this review's cumulative minus the change would give it.
-#}
{{ config(tags=['freed_resources']) }}
{%- set min_cell = var('min_cell_size', 5) | int %}
{%- set unit = var('separate_unit_department', 'helhed') %}

with

proposals as (

    select * from {{ ref('fct_budget_reallocation_proposals') }}

),

baseline as (

    select * from {{ ref('fct_programme_baseline_by_department') }}

),

reviews as (

    select review_id, previous_review_id from {{ ref('int_budget_reviews') }}

),

row_persons as (

    select
        proposals.*,
        baseline.persons_with_baseline_cost,
        baseline.persons_with_actual_cost,
        baseline.moved_citizens
    from proposals
    left join baseline
        on  baseline.programme_code = proposals.programme_code
        and baseline.review_id = proposals.review_id
        and baseline.department = proposals.budget_holder

),

primary_hidden as (

    select
        row_persons.*,
        {{ is_small_cell('participants') }}
            or coalesce(variant = 'baseline' and (persons_with_baseline_cost between 1 and {{ min_cell - 1 }}
                                                  or persons_with_actual_cost between 1 and {{ min_cell - 1 }}), false)
            or coalesce(variant = 'borgerandel' and moved_citizens between 1 and {{ min_cell - 1 }}, false)
                                                                                    as is_primary_hidden
    from row_persons

),

hidden as (

    select
        primary_hidden.*,
        is_primary_hidden
            or (budget_holder = '{{ unit }}' and model = 'saerskilt_enhed' and bool_or(is_primary_hidden) over (
                partition by programme_code, review_id, model, variant))                  as is_hidden
    from primary_hidden

),

with_previous as (

    select
        hidden.*,
        coalesce(previous.is_hidden, false)                                         as is_previous_hidden
    from hidden
    inner join reviews
        on hidden.review_id = reviews.review_id
    left join hidden as previous
        on  previous.review_id = reviews.previous_review_id
        and previous.programme_code = hidden.programme_code
        and previous.model = hidden.model
        and previous.variant = hidden.variant
        and previous.budget_holder = hidden.budget_holder

)

select
    programme_code,
    programme_label,
    review_id,
    budget_year,
    review_code,
    review_label,
    review_date,
    model,
    variant,
    budget_holder,
    budget_holder_label,
    line_type,
    {%- for column in ['proposal_amount', 'proposal_lower', 'proposal_upper'] %}
    (case when not is_hidden and not is_previous_hidden then {{ column }} end)::numeric(16, 2)  as {{ column }},
    {%- endfor %}
    {%- for column in ['cumulative_amount', 'cumulative_lower', 'cumulative_upper', 'basis_amount', 'basis_lower', 'basis_upper'] %}
    (case when not is_hidden then {{ column }} end)::numeric(16, 2)                 as {{ column }},
    {%- endfor %}
    interval_source,
    draws,
    department_budget,
    (case when not is_hidden then share_of_budget end)::numeric(12, 4)             as share_of_budget,
    (case when not is_hidden then requires_approval end)                           as requires_approval,
    ({{ suppress_small('participants') }})::integer                                as participants,
    is_hidden                                                                      as is_suppressed,
    data_as_of
from with_previous
