{#-
    The person-month fact (domain brief section 4), published to `restricted`: one row per
    person and month with a benefit day, a service, attributed cost, or a month of a
    programme participant's follow-up window. The incremental int_person_months with the
    target-group flags of the definitions in force, itself incremental by month: publishing
    renames build_restricted to restricted and the previously published schema back to
    build_restricted (helhed.publish), so tonight's build updates the fact published two
    nights ago, from its own record of the files and as-of date it covered
    (macros/incremental.sql), instead of copying every person-month again. Flags per month:
    (seed target_group_definitions, macro target_group_condition):
    - the cost rules take the top ceil(residents x p / 100) of the ranking by trailing
      12-month cost among residents with any (cost_rank, int_person_month_spine), residents
      counted by int_residents_aggregated_to_months; only persons with a row in the month are
      ranked;
    - a person is in a complex family in a month when any household they belong to is one
      (int_household_months).
    Generated columns: ftp_<benefit_group> (seed benefit_groups), is_active_<department>
    and cost_*_<department> (seed departments), tg_<target_group>; the contract lists them,
    so a new code needs a contract line.
-#}
{%- set incremental_config = incremental_by_month_config(drop_months_before_window=true) -%}
{%- do incremental_config.update({'pre_hook': "{{ big_work_mem() }}"}) -%}
{{ config(**incremental_config) }}

{%- set batch_start = incremental_batch_start() -%}

{%- set benefit_groups = seed_values('benefit_groups', 'benefit_group') -%}
{%- set service_departments = seed_values('departments', 'department', where='is_service_department') -%}
{%- set cost_departments = seed_values('departments', 'department', where='is_cost_department') -%}
{%- set target_groups = current_target_groups() -%}
{%- set complex_family_groups = current_target_groups(rule='complex_family') %}
-- depends_on: {{ ref('int_household_months') }}
-- depends_on: {{ ref('int_household_members') }}
-- depends_on: {{ ref('int_months') }}

with

person_months as (

    select * from {{ ref('int_person_months') }}
    where {{ in_batch('month', batch_start) }}

),

residents as (

    select month, sum(residents) as residents_in_month
    from {{ ref('int_residents_aggregated_to_months') }}
    group by month

),

{%- if complex_family_groups %}

household_flags as (

    select
        {{ person_id('members.person_key') }}  as person_id,
        household_months.month
        {%- for definition in complex_family_groups %},
        bool_or(household_months.tg_{{ definition['target_group'] }})  as household_tg_{{ definition['target_group'] }}
        {%- endfor %}
    from {{ ref('int_household_months') }} as household_months
    inner join {{ ref('int_months') }} as months
        on  household_months.month = months.month
        and {{ in_batch('household_months.month', batch_start) }}
    inner join {{ ref('int_household_members') }} as members
        on  members.household_key = household_months.household_key
        and members.valid_from <= months.month_end
        and members.valid_to >= months.month
    group by 1, household_months.month

),

{%- endif %}

evaluated as (

    select
        person_months.*,
        coalesce(residents.residents_in_month, 0)  as residents_in_month
        {%- for definition in complex_family_groups %},
        household_flags.household_tg_{{ definition['target_group'] }}
        {%- endfor %}
    from person_months
    left join residents
        on person_months.month = residents.month
    {%- if complex_family_groups %}
    left join household_flags
        on  person_months.person_id = household_flags.person_id
        and person_months.month = household_flags.month
    {%- endif %}

)

select
    person_key,
    month,
    days_in_month,
    days_covered,
    benefit_days,
    income_support_days,
    full_time_person_share,
    primary_benefit_group,
    visitation_category,
    is_visitation_relevant,
    is_self_supporting,
    {%- for benefit_group in benefit_groups %}
    ftp_{{ benefit_group }},
    {%- endfor %}
    is_resident,
    age_years,
    household_key,
    departments_active,
    {%- for department in service_departments %}
    is_active_{{ department }},
    {%- endfor %}
    concurrent_services,
    contact_points,
    network_meetings,
    conversations_held,
    offers_active,
    parallel_services,
    is_in_ordinary_employment,
    is_in_education,
    is_placed_outside_home,
    placement_type,
    has_child_placed_outside_home,
    -- the contract's type, spelled out: an incremental run compares the new rows' types with the table's
    latest_progression_score::numeric(4, 2)                         as latest_progression_score,
    programme_code,
    enrolment_id,
    months_since_enrolment,
    is_enrolled,
    cost_direct,
    cost_imputed,
    cost_total,
    {%- for department in cost_departments %}
    cost_direct_{{ department }},
    cost_imputed_{{ department }},
    cost_total_{{ department }},
    {%- endfor %}
    trailing_12m_cost,
    cost_rank
    {%- for definition in target_groups %},
    coalesce({{ target_group_condition(definition) }}, false)         as tg_{{ definition['target_group'] }}
    {%- endfor %}
from evaluated
