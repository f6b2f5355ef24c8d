{#-
    The family-month grain (domain brief section 4): one row per household (int_household_members)
    and month in which at least one member has a row in int_person_months, with the members'
    measures summed over the household (departments active is the number of departments
    any member is active in). One `tg_<target_group>` flag per target group with the rule
    `complex_family` (seed target_group_definitions): a child of the household has a service
    of one of the definition's purposes and an adult member is on public income support.
    Incremental by month like int_person_months.
-#}
{{ config(**incremental_by_month_config(drop_months_before_window=true)) }}

{%- set batch_start = incremental_batch_start() -%}
{%- set service_departments = seed_values('departments', 'department', where='is_service_department') -%}
{%- set cost_departments = seed_values('departments', 'department', where='is_cost_department') -%}
{%- set complex_family_groups = current_target_groups(rule='complex_family') %}

with

person_months as (

    select * from {{ ref('int_person_months') }}
    where {{ in_batch('month', batch_start) }}

),

members as (

    select {{ person_id('person_key') }} as person_id, *
    from {{ ref('int_household_members') }}

),

months as (

    select * from {{ ref('int_months') }}
    where {{ in_batch('month', batch_start) }}

),

active_members as (

    select
        members.household_key,
        members.member_role,
        person_months.person_id,
        person_months.month,
        person_months.as_of_date,
        {%- for department in service_departments %}
        person_months.is_active_{{ department }},
        {%- endfor %}
        person_months.concurrent_services,
        person_months.contact_points,
        person_months.parallel_services,
        person_months.network_meetings,
        person_months.conversations_held,
        person_months.offers_active,
        person_months.income_support_days,
        person_months.is_in_ordinary_employment,
        person_months.is_placed_outside_home,
        person_months.is_enrolled,
        person_months.service_purposes,
        person_months.cost_direct,
        person_months.cost_imputed,
        person_months.cost_total
        {%- for department in cost_departments %},
        person_months.cost_total_{{ department }}
        {%- endfor %}
    from person_months
    inner join months
        on person_months.month = months.month
    inner join members
        on  members.person_id = person_months.person_id
        and members.valid_from <= months.month_end
        and members.valid_to >= months.month

),

household_months as (

    select distinct household_key, month
    from active_members

),

member_counts as (

    select
        household_months.household_key,
        household_months.month,
        count(*)::integer                                          as members,
        count(*) filter (where members.member_role = 'parent')::integer  as adults,
        count(*) filter (where members.member_role = 'child')::integer   as children
    from household_months
    inner join months
        on household_months.month = months.month
    inner join members
        on  members.household_key = household_months.household_key
        and members.valid_from <= months.month_end
        and members.valid_to >= months.month
    group by household_months.household_key, household_months.month

),

aggregated as (

    select
        household_key,
        month,
        max(as_of_date)                                                        as as_of_date,
        count(*)::integer                                                      as members_with_activity,
        (0
        {%- for department in service_departments %}
            + bool_or(is_active_{{ department }})::integer
        {%- endfor %}
        )                                                                      as departments_active,
        sum(concurrent_services)::integer                                      as concurrent_services,
        sum(contact_points)::integer                                           as contact_points,
        sum(parallel_services)::integer                                        as parallel_services,
        sum(network_meetings)::integer                                         as network_meetings,
        sum(conversations_held)::integer                                       as conversations_held,
        sum(offers_active)::integer                                            as offers_active,
        count(*) filter (where member_role = 'parent' and income_support_days > 0)::integer
                                                                               as adults_on_income_support,
        count(*) filter (where member_role = 'parent' and is_in_ordinary_employment)::integer
                                                                               as adults_in_ordinary_employment,
        count(*) filter (where member_role = 'child' and is_active_boern_familie)::integer
                                                                               as children_with_child_services,
        count(*) filter (where member_role = 'child' and is_placed_outside_home)::integer
                                                                               as children_placed_outside_home,
        count(*) filter (where is_enrolled)::integer                           as members_enrolled,
        sum(cost_direct)::numeric(16, 2)                                       as cost_direct,
        sum(cost_imputed)::numeric(16, 2)                                      as cost_imputed,
        sum(cost_total)::numeric(16, 2)                                        as cost_total
        {%- for department in cost_departments %},
        sum(cost_total_{{ department }})::numeric(16, 2)                       as cost_total_{{ department }}
        {%- endfor %}
        {%- for definition in complex_family_groups %},
        {{ complex_family_condition(definition) }}                             as tg_{{ definition['target_group'] }}
        {%- endfor %}
    from active_members
    group by household_key, month

)

select
    aggregated.household_key,
    aggregated.month,
    aggregated.as_of_date,
    member_counts.members,
    member_counts.adults,
    member_counts.children,
    aggregated.members_with_activity,
    aggregated.departments_active,
    aggregated.concurrent_services,
    aggregated.contact_points,
    aggregated.parallel_services,
    aggregated.network_meetings,
    aggregated.conversations_held,
    aggregated.offers_active,
    aggregated.adults_on_income_support,
    aggregated.adults_in_ordinary_employment,
    aggregated.children_with_child_services,
    aggregated.children_placed_outside_home,
    aggregated.members_enrolled,
    aggregated.cost_direct,
    aggregated.cost_imputed,
    aggregated.cost_total
    {%- for department in cost_departments %},
    aggregated.cost_total_{{ department }}
    {%- endfor %}
    {%- for definition in complex_family_groups %},
    aggregated.tg_{{ definition['target_group'] }}
    {%- endfor %}
from aggregated
inner join member_counts
    on  aggregated.household_key = member_counts.household_key
    and aggregated.month = member_counts.month
