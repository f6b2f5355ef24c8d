{#-
    The family-month fact (domain brief section 4), published to `restricted`: one row per
    household and month in which a member has a row in fct_person_month, with the members'
    measures summed over the household (int_household_months). Generated columns:
    cost_total_<department> (seed departments) and tg_<target_group> for the complex-family
    target groups (seed target_group_definitions).
-#}
{%- set cost_departments = seed_values('departments', 'department', where='is_cost_department') -%}
{%- set complex_family_groups = current_target_groups(rule='complex_family') %}

select
    household_key,
    month,
    members,
    adults,
    children,
    members_with_activity,
    departments_active,
    concurrent_services,
    contact_points,
    parallel_services,
    network_meetings,
    conversations_held,
    offers_active,
    adults_on_income_support,
    adults_in_ordinary_employment,
    children_with_child_services,
    children_placed_outside_home,
    members_enrolled,
    cost_direct,
    cost_imputed,
    cost_total
    {%- for department in cost_departments %},
    cost_total_{{ department }}
    {%- endfor %}
    {%- for definition in complex_family_groups %},
    tg_{{ definition['target_group'] }}
    {%- endfor %}
from {{ ref('int_household_months') }}
order by household_key, month
