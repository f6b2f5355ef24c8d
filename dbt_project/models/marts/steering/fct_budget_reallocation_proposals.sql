{#-
    Budget reallocation proposals per programme and budget review under both models of the
    domain brief (section 7; KL 2017 section 6.1-6.4), with the central var('budget_interval_level')
    interval of the freed-resource draws. Not suppressed (BI role only);
    economy_budget_reallocation_proposals is.

    Input: build_restricted.programme_freed_resources_draws (programme, department, month, draw,
    freed_dkk; written by the evaluation step after the dbt build: counterfactual minus actual
    cost, positive = saved; draw 0 the point estimate, 1..B bootstrap replicates). This model is
    tagged `freed_resources` and is built again by `helhed.budget.build_after_evaluation` once
    the draws exist; without them (the first pass of the night) it holds the separate-unit rows
    only.

    The department's freed resources for the year, per draw and review (`basis`):
    - `loebende` (as gains appear): realised from 1 January to the review month;
    - `forskud` (up front, with true-up): realised to date + the months left of the year x the
      mean monthly freed resources of the 12 months up to the review (of the months with draws).
      At the annual accounts both are the realised year.

    Network model (`netvaerk`, budgets stay in the departments): in each draw, the departments
    that save (basis > 0) give, in proportion to their savings, the amount moved = min(total
    saved, total extra cost) to the departments that carry extra cost (basis < 0), in proportion
    to their extra cost. The department rows sum to zero (to the øre: the rounding remainder goes
    to the largest amount). The `kassen` row is the rest: net savings that stay in the saving
    departments and can be harvested (positive), or extra cost no saving covers (negative,
    always flagged for approval).

    Separate unit (`saerskilt_enhed`, budget holder var('separate_unit_department')): each
    department gives the unit `baseline` = the cohort's baseline cost in it for the months of the
    year in the unit, or `borgerandel` = its adopted budget x the share of its citizens moved
    (fct_programme_baseline_by_department); the unit row receives their sum (rows sum to zero).
    These are budget rules, not estimates: their interval is the amount itself
    (interval_source `regel`); the basis columns carry the freed-resource estimate with its
    interval (for the unit: the programme's total).

    cumulative_amount is the budget change of the year after the review; proposal_amount the
    change to decide at this review (cumulative minus the year's previous review). Extra spending
    (negative basis) above var('budget_approval_threshold_pct') % of the department's corrected
    budget at the review is flagged for approval.
-#}
{{ config(tags=['freed_resources']) }}
{%- set unit = var('separate_unit_department', 'helhed') %}
{%- set threshold = var('budget_approval_threshold_pct', 1.0) %}
{%- set level = var('budget_interval_level', 0.95) | float %}
{%- set lower_q = ((1 - level) / 2) | round(6) %}
{%- set upper_q = (1 - (1 - level) / 2) | round(6) %}
{%- set draws_relation = adapter.get_relation(database=this.database, schema=this.schema,
                                               identifier='programme_freed_resources_draws') if execute else none %}

with

reviews as (

    select * from {{ ref('int_budget_reviews') }}
    where is_reported

),

draws as (

    {%- if draws_relation is not none %}
    select
        programme::text                         as programme_code,
        department::text                        as department,
        date_trunc('month', month)::date        as month,
        draw::integer                           as draw,
        freed_dkk::numeric                      as freed
    from {{ draws_relation }}
    {%- else %}
    -- The evaluation step has not written the draws (yet): no network-model rows.
    select null::text as programme_code, null::text as department, null::date as month,
        null::integer as draw, null::numeric as freed
    where false
    {%- endif %}

),

baseline as (

    select * from {{ ref('fct_programme_baseline_by_department') }}

),

department_budgets as (

    select review_id, department, sum(corrected_budget)                          as corrected_budget
    from {{ ref('fct_budget_reviews') }}
    group by 1, 2

),

participants as (

    select programme_code, review_id, max(participants)                          as participants
    from baseline
    group by 1, 2

),

in_window as (

    -- Each draw row with the reviews whose trailing 12 months contain its month.
    select
        draws.*,
        reviews.review_id,
        reviews.budget_year,
        reviews.months_elapsed,
        draws.month >= make_date(reviews.budget_year, 1, 1)                      as is_this_year
    from draws
    inner join reviews
        on  draws.month <= reviews.review_month
        and draws.month > (reviews.review_month - interval '12 months')::date

),

window_months as (

    select programme_code, review_id, months_elapsed, count(distinct month)     as months_with_draws
    from in_window
    group by 1, 2, 3

),

grid as (

    -- Every department and draw of the programme at every review it has draws for.
    select distinct
        window_months.programme_code,
        window_months.review_id,
        window_months.months_elapsed,
        window_months.months_with_draws,
        departments.department,
        draw_ids.draw
    from window_months
    inner join (select distinct programme_code, department from draws) as departments
        on departments.programme_code = window_months.programme_code
    inner join (select distinct programme_code, draw from draws) as draw_ids
        on draw_ids.programme_code = window_months.programme_code

),

sums as (

    select
        programme_code,
        review_id,
        department,
        draw,
        sum(freed) filter (where is_this_year)                                    as realised,
        sum(freed)                                                                as trailing
    from in_window
    group by 1, 2, 3, 4

),

estimates as (

    select
        grid.programme_code,
        grid.review_id,
        grid.department,
        grid.draw,
        variants.variant,
        case variants.variant
            when 'loebende' then coalesce(sums.realised, 0)
            else coalesce(sums.realised, 0)
                 + (12 - grid.months_elapsed) * coalesce(sums.trailing, 0) / grid.months_with_draws
        end                                                                       as basis
    from grid
    cross join (values ('forskud'), ('loebende')) as variants (variant)
    left join sums
        on  sums.programme_code = grid.programme_code
        and sums.review_id = grid.review_id
        and sums.department = grid.department
        and sums.draw = grid.draw

),

moved as (

    select
        estimates.*,
        sum(greatest(basis, 0)) over per_draw                                     as saved,
        sum(greatest(-basis, 0)) over per_draw                                    as extra,
        sum(basis) over per_draw                                                  as net
    from estimates
    window per_draw as (partition by programme_code, review_id, variant, draw)

),

transfers as (

    select
        moved.*,
        round(case
            when basis > 0 then -least(saved, extra) * basis / saved
            when basis < 0 then least(saved, extra) * (-basis) / extra
            else 0
        end, 2)                                                                   as rounded
    from moved

),

balanced as (

    -- The rounding remainder of each draw goes to its largest transfer, so rows sum to zero.
    select
        transfers.*,
        rounded + case when row_number() over (
                partition by programme_code, review_id, variant, draw
                order by abs(rounded) desc, department
            ) = 1 then -sum(rounded) over (partition by programme_code, review_id, variant, draw)
            else 0 end                                                            as cumulative
    from transfers

),

network_rows as (

    select programme_code, review_id, 'netvaerk'::text as model, variant, department as budget_holder,
        draw, cumulative, basis
    from balanced
    union all
    select distinct programme_code, review_id, 'netvaerk', variant, 'kassen', draw, round(net, 2), net
    from balanced

),

unit_rule_rows as (

    select
        baseline.programme_code,
        baseline.review_id,
        'saerskilt_enhed'::text                                                   as model,
        rules.variant,
        baseline.department                                                       as budget_holder,
        -rules.amount                                                             as cumulative
    from baseline
    cross join lateral (values
        ('baseline', baseline.unit_budget_baseline),
        ('borgerandel', baseline.unit_budget_citizens)
    ) as rules (variant, amount)
    union all
    select programme_code, review_id, 'saerskilt_enhed', 'baseline', '{{ unit }}', sum(unit_budget_baseline)
    from baseline
    group by 1, 2
    union all
    select programme_code, review_id, 'saerskilt_enhed', 'borgerandel', '{{ unit }}', sum(unit_budget_citizens)
    from baseline
    group by 1, 2

),

unit_basis as (

    -- The up-front estimate of the freed resources: per department, and the programme's total for the unit.
    select programme_code, review_id, department as budget_holder, draw, basis
    from estimates
    where variant = 'forskud'
    union all
    select programme_code, review_id, '{{ unit }}', draw, sum(basis)
    from estimates
    where variant = 'forskud'
    group by 1, 2, 4

),

unit_rows as (

    -- Rule amounts do not vary by draw: one row per draw of the programme (or draw 0 alone).
    select
        unit_rule_rows.programme_code,
        unit_rule_rows.review_id,
        unit_rule_rows.model,
        unit_rule_rows.variant,
        unit_rule_rows.budget_holder,
        coalesce(unit_basis.draw, 0)                                              as draw,
        unit_rule_rows.cumulative,
        unit_basis.basis
    from unit_rule_rows
    left join unit_basis
        on  unit_basis.programme_code = unit_rule_rows.programme_code
        and unit_basis.review_id = unit_rule_rows.review_id
        and unit_basis.budget_holder = unit_rule_rows.budget_holder

),

all_rows as (

    select network_rows.*, 'bootstrap'::text as interval_source from network_rows
    union all
    select unit_rows.*, 'regel' from unit_rows

),

with_previous as (

    select
        all_rows.*,
        all_rows.cumulative - coalesce(previous.cumulative, 0)                    as proposal
    from all_rows
    inner join reviews
        on all_rows.review_id = reviews.review_id
    left join all_rows as previous
        on  previous.review_id = reviews.previous_review_id
        and previous.programme_code = all_rows.programme_code
        and previous.model = all_rows.model
        and previous.variant = all_rows.variant
        and previous.budget_holder = all_rows.budget_holder
        and previous.draw = all_rows.draw

),

summarised as (

    select
        programme_code,
        review_id,
        model,
        variant,
        budget_holder,
        min(interval_source)                                                      as interval_source,
        max(proposal) filter (where draw = 0)                                     as proposal_amount,
        max(cumulative) filter (where draw = 0)                                   as cumulative_amount,
        max(basis) filter (where draw = 0)                                        as basis_amount,
        percentile_cont({{ lower_q }}) within group (order by proposal) filter (where draw > 0)    as proposal_lower,
        percentile_cont({{ upper_q }}) within group (order by proposal) filter (where draw > 0)    as proposal_upper,
        percentile_cont({{ lower_q }}) within group (order by cumulative) filter (where draw > 0)  as cumulative_lower,
        percentile_cont({{ upper_q }}) within group (order by cumulative) filter (where draw > 0)  as cumulative_upper,
        percentile_cont({{ lower_q }}) within group (order by basis) filter (where draw > 0)       as basis_lower,
        percentile_cont({{ upper_q }}) within group (order by basis) filter (where draw > 0)       as basis_upper,
        count(*) filter (where draw > 0)                                          as draws
    from with_previous
    group by 1, 2, 3, 4, 5

),

labelled as (

    select
        summarised.*,
        reviews.budget_year,
        reviews.review_code,
        reviews.review_label,
        reviews.review_date,
        reviews.as_of_date,
        department_budgets.corrected_budget                                      as department_budget,
        coalesce(participants.participants, 0)                                   as participants,
        case
            when summarised.budget_holder = 'kassen' then 'rest'
            else 'omplacering'
        end                                                                       as line_type,
        case
            when summarised.model = 'netvaerk' and summarised.budget_holder = 'kassen' then summarised.cumulative_amount < 0
            when summarised.model = 'netvaerk' then summarised.basis_amount < 0
                and -summarised.basis_amount > {{ threshold }} / 100.0 * abs(coalesce(department_budgets.corrected_budget, 0))
            when summarised.budget_holder = '{{ unit }}' then summarised.basis_amount < 0
                and -summarised.basis_amount > {{ threshold }} / 100.0 * abs(summarised.cumulative_amount)
            else false
        end                                                                       as requires_approval
    from summarised
    inner join reviews
        on summarised.review_id = reviews.review_id
    left join department_budgets
        on  department_budgets.review_id = summarised.review_id
        and department_budgets.department = summarised.budget_holder
    left join participants
        on  participants.programme_code = summarised.programme_code
        and participants.review_id = summarised.review_id

)

select
    labelled.programme_code,
    programmes.service_label                                                      as programme_label,
    labelled.review_id,
    labelled.budget_year,
    labelled.review_code,
    labelled.review_label,
    labelled.review_date,
    labelled.model,
    labelled.variant,
    labelled.budget_holder,
    coalesce(departments.department_label, case labelled.budget_holder
        when 'kassen' then 'Kassen (netto)' end)                                  as budget_holder_label,
    labelled.line_type,
    round(labelled.proposal_amount, 2)::numeric(16, 2)                            as proposal_amount,
    (case when labelled.interval_source = 'regel' then round(labelled.proposal_amount, 2)
        else round(labelled.proposal_lower::numeric, 2) end)::numeric(16, 2)      as proposal_lower,
    (case when labelled.interval_source = 'regel' then round(labelled.proposal_amount, 2)
        else round(labelled.proposal_upper::numeric, 2) end)::numeric(16, 2)      as proposal_upper,
    round(labelled.cumulative_amount, 2)::numeric(16, 2)                          as cumulative_amount,
    (case when labelled.interval_source = 'regel' then round(labelled.cumulative_amount, 2)
        else round(labelled.cumulative_lower::numeric, 2) end)::numeric(16, 2)    as cumulative_lower,
    (case when labelled.interval_source = 'regel' then round(labelled.cumulative_amount, 2)
        else round(labelled.cumulative_upper::numeric, 2) end)::numeric(16, 2)    as cumulative_upper,
    round(labelled.basis_amount, 2)::numeric(16, 2)                               as basis_amount,
    round(labelled.basis_lower::numeric, 2)::numeric(16, 2)                       as basis_lower,
    round(labelled.basis_upper::numeric, 2)::numeric(16, 2)                       as basis_upper,
    labelled.interval_source,
    labelled.draws::integer                                                       as draws,
    labelled.department_budget::numeric(16, 2)                                    as department_budget,
    (case when labelled.department_budget <> 0 then
        round(labelled.cumulative_amount / abs(labelled.department_budget), 4)
    end)::numeric(12, 4)                                                          as share_of_budget,
    coalesce(labelled.requires_approval, false)                                   as requires_approval,
    labelled.participants::integer                                                as participants,
    labelled.as_of_date                                                           as data_as_of
from labelled
left join {{ ref('dim_department') }} as departments
    on labelled.budget_holder = departments.department
left join {{ ref('service_catalogue') }} as programmes
    on  programmes.service_code = labelled.programme_code
    and programmes.source = 'helhed'
