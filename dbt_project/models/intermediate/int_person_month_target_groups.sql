{#-
    Target-group membership per person-month (domain brief section 5): one boolean
    `tg_<target_group>` per target group of the seed target_group_definitions, evaluated with
    the version in force (macro target_group_condition). For the cost rules, persons are
    ranked within the month by trailing 12-month cost among residents on the 1st with any
    cost (cost_rank, 1 = most expensive; ties by person key) and the top ceil(residents x p
    / 100) are members; only persons with a row in the month can be ranked. A person is in
    a complex family in a month when any household they belong to is one.
    Incremental by month like int_person_months.
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

-- depends_on: {{ ref('int_household_months') }}
-- depends_on: {{ ref('int_household_members') }}
-- depends_on: {{ ref('int_months') }}
{%- set batch_start = incremental_batch_start() -%}
{%- set target_groups = current_target_groups() -%}
{%- set complex_family_groups = current_target_groups(rule='complex_family') %}

with

person_months as (

    select * from {{ ref('int_person_months') }}
    where {{ in_batch('month', batch_start) }}

),

residents as (

    select month, sum(residents) as residents_in_month
    from {{ ref('int_residents_aggregated_to_months') }}
    where {{ in_batch('month', batch_start) }}
    group by month

),

{%- if complex_family_groups %}

household_flags as (

    select
        members.person_key,
        household_months.month
        {%- for definition in complex_family_groups %},
        bool_or(household_months.tg_{{ definition['target_group'] }})  as household_tg_{{ definition['target_group'] }}
        {%- endfor %}
    from {{ ref('int_household_months') }} as household_months
    inner join {{ ref('int_months') }} as months
        on household_months.month = months.month
    inner join {{ ref('int_household_members') }} as members
        on  members.household_key = household_months.household_key
        and members.valid_from <= months.month_end
        and members.valid_to >= months.month
    where {{ in_batch('household_months.month', batch_start) }}
    group by members.person_key, household_months.month

),

{%- endif %}

ranked as (

    select
        person_months.*,
        case when person_months.is_resident and person_months.trailing_12m_cost > 0 then
            row_number() over (
                partition by person_months.month,
                    (person_months.is_resident and person_months.trailing_12m_cost > 0)
                order by person_months.trailing_12m_cost desc, person_months.person_key
            )
        end                                              as cost_rank,
        coalesce(residents.residents_in_month, 0)        as residents_in_month
        {%- for definition in complex_family_groups %},
        household_flags.household_tg_{{ definition['target_group'] }}
        {%- endfor %}
    from person_months
    left join residents
        on person_months.month = residents.month
    {%- if complex_family_groups %}
    left join household_flags
        on  person_months.person_key = household_flags.person_key
        and person_months.month = household_flags.month
    {%- endif %}

)

select
    person_key,
    month,
    as_of_date,
    cost_rank::integer                                   as cost_rank,
    residents_in_month::integer                          as residents_in_month
    {%- for definition in target_groups %},
    coalesce({{ target_group_condition(definition) }}, false)  as tg_{{ definition['target_group'] }}
    {%- endfor %}
from ranked
