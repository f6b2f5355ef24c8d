{#-
    One row per person and month with at least one benefit day. The ftp_<benefit_group>
    columns are generated from the rows of the benefit_groups seed, so the seed has to be
    loaded before this model is compiled (`dbt build` and `dbt seed` both do that).
-#}
{%- set benefit_groups_relation = ref('benefit_groups') -%}
{%- set benefit_groups = [] -%}
{%- if execute -%}
    {%- if load_relation(benefit_groups_relation) is none -%}
        {{ exceptions.raise_compiler_error("Seed benefit_groups is not loaded into " ~ benefit_groups_relation ~ "; run `dbt seed` (or `dbt build`) first.") }}
    {%- endif -%}
    {%- set result = run_query("select benefit_group from " ~ benefit_groups_relation ~ " order by benefit_group") -%}
    {%- set benefit_groups = result.columns[0].values() -%}
    {%- for benefit_group in benefit_groups -%}
        {%- if not modules.re.fullmatch('[a-z][a-z0-9_]*', benefit_group) -%}
            {{ exceptions.raise_compiler_error("benefit_group '" ~ benefit_group ~ "' is not a valid column suffix") }}
        {%- endif -%}
    {%- endfor -%}
{%- endif -%}

with

group_days as (

    select * from {{ ref('int_benefit_groups_aggregated_to_person_months') }}

),

clipped_periods as (

    select * from {{ ref('int_benefit_periods_clipped_to_months') }}

),

person_months as (

    select
        person_key,
        month,
        max(days_in_month)::integer                                        as days_in_month,
        sum(benefit_days)::integer                                         as benefit_days,
        coalesce(sum(benefit_days) filter (where is_income_support), 0)::integer
                                                                           as income_support_days
        {%- for benefit_group in benefit_groups %},
        coalesce(sum(benefit_days) filter (where benefit_group = '{{ benefit_group }}'), 0)
                                                                           as days_{{ benefit_group }}
        {%- endfor %}
    from group_days
    group by person_key, month

),

primary_benefit_group as (

    -- The group with most days in the month; ties go to the first code alphabetically.
    select distinct on (person_key, month)
        person_key,
        month,
        benefit_group
    from group_days
    order by person_key, month, benefit_days desc, benefit_group

),

last_period as (

    -- The last period overlapping the month: latest start, then latest end, then period_id.
    select distinct on (person_key, month)
        person_key,
        month,
        visitation_category
    from clipped_periods
    order by person_key, month, start_date desc, effective_end_date desc, period_id desc

)

select
    person_months.person_key,
    person_months.month,
    person_months.days_in_month,
    person_months.benefit_days,
    person_months.income_support_days,
    round(
        least(person_months.benefit_days::numeric / person_months.days_in_month, 1), 4
    )::numeric(5, 4)                                         as full_time_person_share,
    primary_benefit_group.benefit_group                      as primary_benefit_group,
    last_period.visitation_category,
    person_months.income_support_days = 0                    as is_self_supporting
    {%- for benefit_group in benefit_groups %},
    round(
        person_months.days_{{ benefit_group }}::numeric
        / greatest(person_months.benefit_days, person_months.days_in_month), 4
    )::numeric(5, 4)                                         as ftp_{{ benefit_group }}
    {%- endfor %}
from person_months
inner join primary_benefit_group
    on  person_months.person_key = primary_benefit_group.person_key
    and person_months.month = primary_benefit_group.month
inner join last_period
    on  person_months.person_key = last_period.person_key
    and person_months.month = last_period.month
-- Rows in primary-key order make the index build of the contract's primary key cheap.
order by person_months.person_key, person_months.month
