{{ config(severity='error') }}
{#-
    economy_budget_reviews and economy_programme_baseline_by_department show no person-based
    amount that 1-4 persons stand behind: no visible function of a review has a month of its
    year to date hidden in economy_cost_coverage_function_monthly, the hidden functions of a
    department and review stand for 0 or at least min_cell_size persons in one month of one of
    them (complementary suppression), and no visible programme baseline row stands for 1-4
    persons. Recomputed from the unsuppressed facts.
-#}
{%- set min_cell = var('min_cell_size', 5) | int %}

with

reviews as (

    select * from {{ ref('int_budget_reviews') }}

),

published as (

    select * from {{ ref('economy_budget_reviews') }}

),

facts as (

    select * from {{ ref('fct_budget_reviews') }}

),

visible_with_hidden_month as (

    select distinct 'economy_budget_reviews: function shown with a hidden month' as problem, published.review_id,
        published.department, published.kontoplan_function as detail
    from published
    inner join reviews on published.review_id = reviews.review_id
    inner join {{ ref('economy_cost_coverage_function_monthly') }} as monthly
        on  monthly.department = published.department
        and monthly.kontoplan_function = published.kontoplan_function
        and monthly.month >= make_date(reviews.budget_year, 1, 1)
        and monthly.month <= reviews.review_month
    where not published.is_suppressed and monthly.is_suppressed

),

hidden_sets as (

    select 'economy_budget_reviews: hidden functions stand for 1-4 persons', published.review_id,
        published.department, max(facts.max_monthly_persons)::text
    from published
    inner join facts using (review_id, department, kontoplan_function)
    where published.is_suppressed
    group by published.review_id, published.department
    having max(facts.max_monthly_persons) between 1 and {{ min_cell - 1 }}

),

small_counts as (

    select 'a count of 1-4 persons is shown', review_id, department, participants::text
    from {{ ref('economy_programme_baseline_by_department') }}
    where participants between 1 and {{ min_cell - 1 }}

),

baseline_small as (

    select 'economy_programme_baseline_by_department: department shown for 1-4 persons', facts.review_id,
        facts.department, facts.programme_code
    from {{ ref('economy_programme_baseline_by_department') }} as published
    inner join {{ ref('fct_programme_baseline_by_department') }} as facts
        using (programme_code, review_id, department)
    where not published.is_suppressed
      and (facts.participants < {{ min_cell }}
           or facts.persons_with_baseline_cost between 1 and {{ min_cell - 1 }}
           or facts.persons_with_actual_cost between 1 and {{ min_cell - 1 }})

)

select * from visible_with_hidden_month
union all
select * from hidden_sets
union all
select * from small_counts
union all
select * from baseline_small
