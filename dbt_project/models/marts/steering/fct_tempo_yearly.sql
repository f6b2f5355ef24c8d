{#-
    Tempo per source and start year (domain brief section 4): records started in the year,
    and the mean and median days from referral to start (fct_service_referrals); for the
    programme register also the mean days from programme start to the joint plan
    (enrolments started in the year that have a plan).
-#}
with

referrals as (

    select * from {{ ref('fct_service_referrals') }}

),

enrolments as (

    select * from {{ ref('fct_programme_enrolments') }}

),

tempo as (

    select
        source,
        start_year,
        count(*)::integer                                                    as records,
        round(avg(days_referral_to_start), 4)::numeric(12, 4)                as mean_days_referral_to_start,
        percentile_cont(0.5) within group (order by days_referral_to_start)::numeric(12, 1)
                                                                             as median_days_referral_to_start
    from referrals
    group by source, start_year

),

plans as (

    select
        extract(year from start_date)::integer                              as start_year,
        count(*)::integer                                                    as enrolments_with_plan,
        round(avg(days_start_to_joint_plan), 4)::numeric(12, 4)              as mean_days_start_to_joint_plan
    from enrolments
    where has_joint_plan
    group by 1

)

select
    tempo.source,
    tempo.start_year,
    tempo.records,
    tempo.mean_days_referral_to_start,
    tempo.median_days_referral_to_start,
    plans.enrolments_with_plan,
    plans.mean_days_start_to_joint_plan
from tempo
left join plans
    on  tempo.source = 'helhed'
    and tempo.start_year = plans.start_year
