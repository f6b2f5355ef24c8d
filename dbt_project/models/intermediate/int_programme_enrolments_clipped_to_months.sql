{#-
    Enrolments in holistic programmes, one row per enrolment and month it overlaps, with the
    days enrolled. An open enrolment runs to the as-of date.
-#}
with

enrolments as (

    select * from {{ ref('stg_helhed__enrolments') }}

),

months as (

    select * from {{ ref('int_months') }}

),

as_of as (

    select max(as_of_date) as as_of_date from months

),

bounded as (

    select
        enrolments.*,
        least(coalesce(enrolments.end_date, as_of.as_of_date), as_of.as_of_date)  as effective_end_date
    from enrolments
    cross join as_of

)

select
    bounded.enrolment_id,
    bounded.person_key,
    bounded.programme_code,
    bounded.coordinator_id,
    bounded.referral_date,
    bounded.start_date,
    bounded.end_date,
    bounded.effective_end_date,
    bounded.joint_plan_date,
    months.month,
    months.days_in_month,
    (
        least(bounded.effective_end_date, months.month_end)
        - greatest(bounded.start_date, months.month)
        + 1
    )::integer as enrolment_days
from bounded
inner join months
    on  bounded.start_date <= months.month_end
    and bounded.effective_end_date >= months.month
