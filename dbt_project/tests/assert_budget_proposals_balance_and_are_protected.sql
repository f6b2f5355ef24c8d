{{ config(severity='error', tags=['freed_resources']) }}
{#-
    Reallocation proposals: the reallocation rows (line_type omplacering) of each programme,
    review, model and variant sum to zero, for the year so far and for the change at the
    review (network model: across departments; separate unit: departments and the unit); and
    the public mart shows no separate-unit department row that 1-4 persons stand behind, no
    unit total beside a hidden department row, and no programme under min_cell_size citizens.
-#}
{%- set min_cell = var('min_cell_size', 5) | int %}
{%- set unit = var('separate_unit_department', 'helhed') %}

with

proposals as (

    select * from {{ ref('fct_budget_reallocation_proposals') }}

),

published as (

    select * from {{ ref('economy_budget_reallocation_proposals') }}

),

unbalanced as (

    select 'reallocations do not sum to zero' as problem, programme_code, review_id, model || '/' || variant as detail
    from proposals
    where line_type = 'omplacering'
    group by programme_code, review_id, model, variant
    having sum(cumulative_amount) <> 0 or sum(proposal_amount) <> 0

),

small_programmes as (

    select 'programme under the minimum cell size shown', published.programme_code, published.review_id, published.budget_holder
    from published
    inner join proposals using (programme_code, review_id, model, variant, budget_holder)
    where not published.is_suppressed and proposals.participants < {{ min_cell }}

),

small_departments as (

    select 'separate-unit department row shown for 1-4 persons', published.programme_code, published.review_id,
        published.variant || '/' || published.budget_holder
    from published
    inner join {{ ref('fct_programme_baseline_by_department') }} as baseline
        on  baseline.programme_code = published.programme_code
        and baseline.review_id = published.review_id
        and baseline.department = published.budget_holder
    where published.model = 'saerskilt_enhed' and not published.is_suppressed
      and ((published.variant = 'baseline' and (baseline.persons_with_baseline_cost between 1 and {{ min_cell - 1 }}
                                                or baseline.persons_with_actual_cost between 1 and {{ min_cell - 1 }}))
           or (published.variant = 'borgerandel' and baseline.moved_citizens between 1 and {{ min_cell - 1 }}))

),

derivable_units as (

    select 'unit total shown beside a hidden department row', units.programme_code, units.review_id, units.variant
    from published as units
    inner join published as parts
        on  parts.programme_code = units.programme_code
        and parts.review_id = units.review_id
        and parts.model = units.model
        and parts.variant = units.variant
        and parts.budget_holder <> units.budget_holder
    where units.model = 'saerskilt_enhed' and units.budget_holder = '{{ unit }}'
      and not units.is_suppressed and parts.is_suppressed

)

select * from unbalanced
union all
select * from small_programmes
union all
select * from small_departments
union all
select * from derivable_units
