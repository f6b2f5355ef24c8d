{#-
    The person-month fact (domain brief section 4), published to `restricted`: one row per
    person and month with a benefit day, a service, attributed cost, or a month of a
    programme participant's follow-up window. A copy of the incremental int_person_months
    with the target-group flags of int_person_month_target_groups (publishing swaps the
    whole schema every night, so the incremental state lives in build_int).
    Generated columns: ftp_<benefit_group> (seed benefit_groups), is_active_<department>
    and cost_*_<department> (seed departments), tg_<target_group> (seed
    target_group_definitions); the contract lists them, so a new code needs a contract line.
-#}
{%- set benefit_groups = seed_values('benefit_groups', 'benefit_group') -%}
{%- set service_departments = seed_values('departments', 'department', where='is_service_department') -%}
{%- set cost_departments = seed_values('departments', 'department', where='is_cost_department') -%}
{%- set target_groups = current_target_groups() %}

with

person_months as (

    select * from {{ ref('int_person_months') }}

),

target_groups as (

    select * from {{ ref('int_person_month_target_groups') }}

)

select
    person_months.person_key,
    person_months.month,
    person_months.days_in_month,
    person_months.benefit_days,
    person_months.income_support_days,
    person_months.full_time_person_share,
    person_months.primary_benefit_group,
    person_months.visitation_category,
    person_months.is_self_supporting,
    {%- for benefit_group in benefit_groups %}
    person_months.ftp_{{ benefit_group }},
    {%- endfor %}
    person_months.is_resident,
    person_months.age_years,
    person_months.household_key,
    person_months.departments_active,
    {%- for department in service_departments %}
    person_months.is_active_{{ department }},
    {%- endfor %}
    person_months.concurrent_services,
    person_months.contact_points,
    person_months.network_meetings,
    person_months.parallel_services,
    person_months.service_codes,
    person_months.is_in_ordinary_employment,
    person_months.is_in_education,
    person_months.is_placed_outside_home,
    person_months.placement_type,
    person_months.has_child_placed_outside_home,
    person_months.latest_progression_score,
    person_months.programme_code,
    person_months.enrolment_id,
    person_months.months_since_enrolment,
    person_months.is_enrolled,
    person_months.cost_direct,
    person_months.cost_imputed,
    person_months.cost_total,
    {%- for department in cost_departments %}
    person_months.cost_direct_{{ department }},
    person_months.cost_imputed_{{ department }},
    person_months.cost_total_{{ department }},
    {%- endfor %}
    person_months.trailing_12m_cost,
    target_groups.cost_rank
    {%- for definition in target_groups %},
    target_groups.tg_{{ definition['target_group'] }}
    {%- endfor %}
from person_months
inner join target_groups
    on  person_months.person_key = target_groups.person_key
    and person_months.month = target_groups.month
-- Rows in primary-key order make the index build of the contract's primary key cheap.
order by person_months.person_key, person_months.month
