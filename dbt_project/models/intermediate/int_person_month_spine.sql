{#-
    The rows of the person-month grain: every person and month (in int_months) with a benefit
    day, an activity (service record or programme enrolment) or attributed cost, and every
    month of a programme participant's follow-up window, from
    var('programme_baseline_months') (12) months before the enrolment's start month to the
    as-of date. With the month's days, whether the person is resident on the 1st, the
    trailing 12-month cost (this month and the 11 before it; months without cost count as
    0) and the rank by it within the month among residents with any (cost_rank, 1 = most
    expensive, ties by person id): the cost target groups take the top of that ranking.
    Keyed by person_id (macro person_id), with the person_key it stands for.
    Incremental (delete+insert on month); a table of its own so the joins of int_person_months
    are planned on real row counts.
-#}
{{ config(**incremental_by_month_config(drop_months_before_window=true)) }}

{%- set batch_start = incremental_batch_start() -%}
{%- set baseline_months = var('programme_baseline_months', 12) | int %}

with

months as (

    select * from {{ ref('int_months') }}
    where {{ in_batch('month', batch_start) }}

),

costs as (

    select person_id, month, cost_total
    from {{ ref('int_cost_aggregated_to_person_months') }}
    where {{ in_batch('month', batch_start, months_before=11) }}

),

keys as (

    -- Every benefit group of a month is an activity, so the activities cover the benefits.
    select person_id, month
    from {{ ref('int_activities_aggregated_to_person_months') }}
    where {{ in_batch('month', batch_start) }}

    union

    select person_id, month
    from costs
    where {{ in_batch('month', batch_start) }}

    union

    select {{ person_id('enrolments.person_key') }}, months.month
    from {{ ref('stg_helhed__enrolments') }} as enrolments
    inner join months
        on months.month >= (date_trunc('month', enrolments.start_date)
                            - interval '{{ baseline_months }} months')::date

),

persons as (

    select {{ person_id('person_key') }} as person_id, *
    from {{ ref('stg_cpr__persons') }}

),

spine as (

    select
        keys.person_id,
        months.month,
        months.month_end,
        months.days_in_month,
        months.days_covered,
        months.as_of_date,
        -- resident on the 1st (the rule of int_residents_monthly)
        coalesce(
            persons.birth_date <= months.month
            and coalesce(persons.moved_in_date, persons.birth_date) <= months.month
            and (persons.moved_out_date is null or persons.moved_out_date >= months.month)
            and (persons.death_date is null or persons.death_date >= months.month),
            false
        )                                                                  as is_resident,
        coalesce(costs.cost_total, 0)                                      as cost_total
    from keys
    inner join months
        on keys.month = months.month
    left join persons
        on keys.person_id = persons.person_id
    left join costs
        on  keys.person_id = costs.person_id
        and keys.month = costs.month

),

trailing_costs as (

    -- The window also sees the cost of the 11 months before the batch (incremental runs).
    select
        person_id,
        month,
        month_end,
        days_in_month,
        days_covered,
        as_of_date,
        is_resident,
        is_spine,
        sum(cost_total) over (
            partition by person_id
            order by month
            range between interval '11 months' preceding and current row
        )                                                              as trailing_12m_cost
    from (
        select person_id, month, month_end, days_in_month, days_covered, as_of_date, is_resident, cost_total,
            true as is_spine
        from spine
        {%- if batch_start is not none %}
        union all
        select person_id, month, null, null, null, null, null, cost_total, false
        from costs
        where month < date '{{ batch_start }}'
        {%- endif %}
    ) as unioned

),

ranked as (

    select
        person_id,
        month,
        month_end,
        days_in_month,
        days_covered,
        as_of_date,
        is_resident,
        trailing_12m_cost,
        -- Rank by trailing 12-month cost among residents with any (1 = most expensive).
        case when is_resident and trailing_12m_cost > 0 then
            row_number() over (
                partition by month, (is_resident and trailing_12m_cost > 0)
                order by trailing_12m_cost desc, person_id
            )
        end                                                                as cost_rank
    from trailing_costs
    where is_spine

)

select
    ranked.person_id,
    person_keys.person_key,
    ranked.month,
    ranked.month_end,
    ranked.days_in_month,
    ranked.days_covered,
    ranked.as_of_date,
    ranked.is_resident,
    ranked.trailing_12m_cost::numeric(16, 2)                               as trailing_12m_cost,
    ranked.cost_rank::integer                                              as cost_rank
from ranked
inner join {{ ref('int_person_keys') }} as person_keys
    on ranked.person_id = person_keys.person_id
