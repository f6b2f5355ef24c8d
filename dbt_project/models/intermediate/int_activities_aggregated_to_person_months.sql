{#-
    What a person receives in a month, across departments: every benefit group, service
    record (DUBU, Sensum, health and care, the jobcenter's offers), programme enrolment and
    jobcenter conversation held in the month is an *activity* of the department that grants it
    (benefits: the department of the benefit group's kontoplan function; services, offers and
    conversations: the service catalogue; programmes: `helhed`). Per person and month:
    - departments_active: departments with is_service_department among them, and one
      is_active_<department> flag per such department;
    - concurrent_services: distinct services (benefit groups, catalogue services and offers,
      programmes; co-financing bills and conversations are not services);
    - caseworkers: distinct caseworkers (Sensum, the jobcenter's offers and conversations) and
      programme coordinators (contact points are caseworkers + departments active);
    - conversations_held: jobcenter conversations held (status Afholdt) in the month, up to the
      as-of date; offers_active: the jobcenter's offers active in the month;
    - parallel_services: purposes served by services of two or more departments
      (seed service_purposes; e.g. a mentor and a support contact person);
    - service_codes, service_purposes, service_departments (departments of services other
      than benefits): the sets the target-group rules test.
    Keyed by person_id (macro person_id). Incremental by month like int_person_months.
-#}
{{ config(**incremental_by_month_config(drop_months_before_window=false)) }}

{%- set batch_start = incremental_batch_start() -%}
{%- set service_departments = seed_values('departments', 'department', where='is_service_department') %}

with

group_days as (

    select * from {{ ref('int_benefit_groups_aggregated_to_person_months') }}
    where {{ in_batch('month', batch_start) }}

),

service_months as (

    select * from {{ ref('int_services_clipped_to_months') }}
    where {{ in_batch('month', batch_start) }}

),

enrolment_months as (

    select * from {{ ref('int_programme_enrolments_clipped_to_months') }}
    where {{ in_batch('month', batch_start) }}

),

conversations as (

    -- Conversations held (a no-show is not a contact), in the reported months up to the as-of date.
    select
        conversations.person_key,
        months.month,
        conversations.conversation_id,
        conversations.caseworker_id
    from {{ ref('stg_jobcenter__conversations') }} as conversations
    inner join {{ ref('int_months') }} as months
        on  date_trunc('month', conversations.conversation_date)::date = months.month
        and conversations.conversation_date <= months.as_of_date
    where conversations.status = 'Afholdt'
      and {{ in_batch('months.month', batch_start) }}

),

benefit_groups as (

    select * from {{ ref('benefit_groups') }}

),

catalogue as (

    select * from {{ ref('service_catalogue') }}

),

functions as (

    select * from {{ ref('int_kontoplan_functions_mapped_to_departments') }}

),

months as (

    select * from {{ ref('int_months') }}

),

activities as (

    select
        {{ person_id('group_days.person_key') }}     as person_id,
        group_days.month,
        coalesce(functions.department, 'oevrige')    as department,
        group_days.benefit_group                     as service_key,
        'income_support'::text                       as purpose,
        null::text                                   as caseworker_id,
        true                                         as counts_as_service,
        true                                         as is_benefit
    from group_days
    inner join benefit_groups
        on group_days.benefit_group = benefit_groups.benefit_group
    left join functions
        on benefit_groups.kontoplan_function = functions.kontoplan_function

    union all

    select
        {{ person_id('person_key') }},
        month,
        department,
        coalesce(service_code, source || ':' || service_label),
        purpose,
        caseworker_id,
        counts_as_service,
        false
    from service_months

    union all

    select
        {{ person_id('enrolment_months.person_key') }},
        enrolment_months.month,
        coalesce(catalogue.department, 'helhed'),
        enrolment_months.programme_code,
        coalesce(catalogue.purpose, 'coordination'),
        enrolment_months.coordinator_id,
        true,
        false
    from enrolment_months
    left join catalogue
        on enrolment_months.programme_code = catalogue.service_code

    union all

    -- A conversation is a contact with the jobcenter, not a service.
    select
        {{ person_id('conversations.person_key') }},
        conversations.month,
        coalesce(catalogue.department, 'beskaeftigelse'),
        coalesce(catalogue.service_code, 'samtale'),
        null::text,
        conversations.caseworker_id,
        false,
        false
    from conversations
    left join catalogue
        on catalogue.source = 'jobcenter' and catalogue.unit = 'conversation'

),

activities_flagged as (

    -- One row per person, month and service (a service active twice in a month is one).
    select
        activities.person_id,
        activities.month,
        activities.service_key,
        min(activities.department)                                         as department,
        min(activities.purpose)                                            as purpose,
        bool_or(activities.counts_as_service)                              as counts_as_service,
        bool_or(activities.is_benefit)                                     as is_benefit
    from activities
    group by activities.person_id, activities.month, activities.service_key

),

caseworkers as (

    -- Sensum records, the jobcenter's offers and conversations, and enrolments name a caseworker.
    select person_id, month, count(distinct caseworker_id)::integer  as caseworkers
    from activities
    where caseworker_id is not null
    group by person_id, month

),

jobcenter as (

    select person_id, month, sum(conversations)::integer as conversations_held, sum(offers)::integer as offers_active
    from (
        select {{ person_id('person_key') }} as person_id, month, count(*) as conversations, 0 as offers
        from conversations
        group by 1, 2
        union all
        select {{ person_id('person_key') }}, month, 0, count(*)
        from service_months
        where source = 'jobcenter'
        group by 1, 2
    ) as counted
    group by person_id, month

),

summary as (

    select
        person_id,
        month,
        (0
        {%- for department in service_departments %}
            + bool_or(department = '{{ department }}')::integer
        {%- endfor %}
        )                                                                  as departments_active
        {%- for department in service_departments %},
        bool_or(department = '{{ department }}')                           as is_active_{{ department }}
        {%- endfor %},
        count(*) filter (where counts_as_service)::integer                 as concurrent_services,
        -- Sets, sorted (so a full refresh and an incremental build write the same arrays): the
        -- target-group rules test them with && and @>.
        array_agg(service_key order by service_key)                        as service_codes,
        coalesce(array_agg(purpose order by purpose) filter (where purpose is not null), '{}')
                                                                           as service_purposes,
        coalesce(array_agg(department order by department) filter (where not is_benefit), '{}')
                                                                           as service_departments
    from activities_flagged
    group by person_id, month

),

parallel as (

    -- Purposes served by services of two or more departments in the same month. Benefits
    -- (income support) come from one department only, so only the other services can be.
    select person_id, month, count(*)::integer as parallel_services
    from (
        select person_id, month, purpose
        from activities
        where not is_benefit and purpose is not null and counts_as_service
        group by person_id, month, purpose
        having min(department) <> max(department)
    ) as parallel_purposes
    group by person_id, month

)

select
    summary.person_id,
    summary.month,
    months.as_of_date,
    summary.departments_active
    {%- for department in service_departments %},
    summary.is_active_{{ department }}
    {%- endfor %},
    summary.concurrent_services,
    coalesce(caseworkers.caseworkers, 0)                                   as caseworkers,
    coalesce(caseworkers.caseworkers, 0) + summary.departments_active      as contact_points,
    coalesce(parallel.parallel_services, 0)                                as parallel_services,
    coalesce(jobcenter.conversations_held, 0)                              as conversations_held,
    coalesce(jobcenter.offers_active, 0)                                   as offers_active,
    summary.service_codes,
    summary.service_purposes,
    summary.service_departments
from summary
inner join months
    on summary.month = months.month
left join parallel
    on  summary.person_id = parallel.person_id
    and summary.month = parallel.month
left join caseworkers
    on  summary.person_id = caseworkers.person_id
    and summary.month = caseworkers.month
left join jobcenter
    on  summary.person_id = jobcenter.person_id
    and summary.month = jobcenter.month
