{#-
    Persons per target group and month (domain brief section 5), counted with the version
    of the definition in force, zeros included: every reported month x every target group.
    Not suppressed (BI role only); the public mart target_groups_persons_monthly is.
-#}
{%- set target_groups = current_target_groups() %}

with

memberships as (

    select * from {{ ref('fct_person_month') }}

),

definitions as (

    select * from {{ ref('dim_target_group') }}
    where is_current

),

months as (

    select * from {{ ref('int_months') }}

),

counted as (

    select
        memberships.month,
        flags.target_group,
        count(*) filter (where flags.is_member)::integer  as persons
    from memberships
    cross join lateral (
        values
        {%- for definition in target_groups %}
            ('{{ definition['target_group'] }}'::text, memberships.tg_{{ definition['target_group'] }}){{ "," if not loop.last }}
        {%- else %}
            (null::text, false)
        {%- endfor %}
    ) as flags (target_group, is_member)
    group by memberships.month, flags.target_group

)

select
    months.month,
    definitions.target_group,
    definitions.version                  as definition_version,
    definitions.target_group_label,
    coalesce(counted.persons, 0)         as persons
from months
cross join definitions
left join counted
    on  counted.month = months.month
    and counted.target_group = definitions.target_group
