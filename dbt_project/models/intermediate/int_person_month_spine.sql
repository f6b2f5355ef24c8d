{#-
    The rows of the person-month grain: every person and month (in int_months) with a benefit
    day, an activity (service record or programme enrolment) or attributed cost, and every
    month of a programme participant's follow-up window, from
    var('programme_baseline_months') (12) months before the enrolment's start month to the
    as-of date. With the month's days and the person's trailing 12-month cost (this month and
    the 11 before it; months without cost count as 0).
    Incremental (delete+insert on month); a table of its own so the joins of int_person_months
    are planned on real row counts.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='month',
    on_schema_change='fail',
    post_hook=[
        "delete from {{ this }} where month < (select min(month) from {{ ref('int_months') }})",
        "{{ ensure_index(['month']) }}",
        "{{ analyze_table() }}",
    ],
) }}

{%- set batch_start = incremental_batch_start() -%}
{%- set baseline_months = var('programme_baseline_months', 12) | int %}

with

months as (

    select * from {{ ref('int_months') }}
    where {{ in_batch('month', batch_start) }}

),

costs as (

    select person_key, month, cost_total
    from {{ ref('int_cost_aggregated_to_person_months') }}
    where {{ in_batch('month', batch_start, months_before=11) }}

),

keys as (

    -- Every benefit group of a month is an activity, so the activities cover the benefits.
    select person_key, month
    from {{ ref('int_activities_aggregated_to_person_months') }}
    where {{ in_batch('month', batch_start) }}

    union

    select person_key, month
    from costs
    where {{ in_batch('month', batch_start) }}

    union

    select enrolments.person_key, months.month
    from {{ ref('stg_helhed__enrolments') }} as enrolments
    inner join months
        on months.month >= (date_trunc('month', enrolments.start_date)
                            - interval '{{ baseline_months }} months')::date

),

trailing_costs as (

    select
        person_key,
        month,
        is_spine,
        sum(cost_total) over (
            partition by person_key
            order by month
            range between interval '11 months' preceding and current row
        )                                                              as trailing_12m_cost
    from (
        select person_key, month, sum(cost_total) as cost_total, bool_or(is_spine) as is_spine
        from (
            select person_key, month, cost_total, false as is_spine from costs
            union all
            select keys.person_key, keys.month, 0, true
            from keys
            inner join months
                on keys.month = months.month
        ) as unioned
        group by person_key, month
    ) as monthly

)

select
    trailing_costs.person_key,
    months.month,
    months.month_end,
    months.days_in_month,
    months.as_of_date,
    coalesce(trailing_costs.trailing_12m_cost, 0)::numeric(16, 2)  as trailing_12m_cost
from trailing_costs
inner join months
    on trailing_costs.month = months.month
where trailing_costs.is_spine
