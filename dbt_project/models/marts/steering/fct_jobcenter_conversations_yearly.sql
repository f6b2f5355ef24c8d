{#-
    The jobcenter's conversations per full-time person (domain brief section 4, "conversations
    and meetings"), per benefit group and year, zeros included: conversations held (status
    Afholdt, up to the as-of date) in the year, each counted under the benefit group of the
    person's benefit period covering its day (the latest start, then the latest end, then the
    highest period id; a conversation on a day without a delivered period counts under none),
    divided by the group's full-time persons in the year (Jobindsats: benefit days / days the
    data cover).
-#}
with

months as (

    select * from {{ ref('int_months') }}

),

years as (

    select extract(year from month)::integer as year, sum(days_covered)::integer as days_covered
    from months
    group by 1

),

groups as (

    select benefit_group from {{ ref('benefit_groups') }}

),

periods as (

    select
        period_id,
        person_key,
        benefit_group,
        start_date,
        least(coalesce(end_date, months_bound.as_of_date), months_bound.as_of_date)  as effective_end_date
    from {{ ref('stg_ydelser__benefit_periods') }}
    cross join (select max(as_of_date) as as_of_date from months) as months_bound

),

conversations as (

    select conversations.conversation_id, conversations.person_key, conversations.conversation_date
    from {{ ref('stg_jobcenter__conversations') }} as conversations
    inner join months
        on  date_trunc('month', conversations.conversation_date)::date = months.month
        and conversations.conversation_date <= months.as_of_date
    where conversations.status = 'Afholdt'

),

attributed as (

    select distinct on (conversations.conversation_id)
        conversations.conversation_id,
        extract(year from conversations.conversation_date)::integer  as year,
        periods.benefit_group
    from conversations
    inner join periods
        on  periods.person_key = conversations.person_key
        and conversations.conversation_date between periods.start_date and periods.effective_end_date
    order by conversations.conversation_id, periods.start_date desc, periods.effective_end_date desc, periods.period_id desc

),

held as (

    select year, benefit_group, count(*)::integer as conversations_held
    from attributed
    group by 1, 2

),

benefit_days as (

    select extract(year from month)::integer as year, benefit_group, sum(benefit_days)::bigint as benefit_days
    from {{ ref('int_benefit_periods_clipped_to_months') }}
    group by 1, 2

)

select
    groups.benefit_group,
    years.year,
    coalesce(held.conversations_held, 0)                                          as conversations_held,
    coalesce(benefit_days.benefit_days, 0)                                        as benefit_days,
    years.days_covered,
    round(coalesce(benefit_days.benefit_days, 0)::numeric / years.days_covered, 4)::numeric(14, 4)
                                                                                  as full_time_persons,
    case when coalesce(benefit_days.benefit_days, 0) > 0 then
        round(coalesce(held.conversations_held, 0)::numeric * years.days_covered / benefit_days.benefit_days, 4)
    end::numeric(14, 4)                                                           as conversations_per_full_time_person
from groups
cross join years
left join held
    on held.year = years.year and held.benefit_group = groups.benefit_group
left join benefit_days
    on benefit_days.year = years.year and benefit_days.benefit_group = groups.benefit_group
