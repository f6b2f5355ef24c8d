{#-
    Tempo from referral to start per start year and department (dashboard Aktivitet og tempo,
    domain brief section 4): services and programme enrolments started in the year that have a
    referral date (fct_service_referrals), the distinct persons behind them, and the mean and
    median days from referral to start. Fewer than 5 persons hide the row's measures.
-#}
with

referrals as (

    select * from {{ ref('fct_service_referrals') }}

),

departments as (

    select * from {{ ref('departments') }}

),

cells as (

    select
        referrals.start_year,
        coalesce(referrals.department, 'ukendt')                               as department,
        count(*)::integer                                                      as starts,
        count(distinct referrals.person_key)::integer                          as persons,
        avg(referrals.days_referral_to_start)                                  as mean_days,
        percentile_cont(0.5) within group (order by referrals.days_referral_to_start) as median_days
    from referrals
    where referrals.days_referral_to_start is not null
    group by 1, 2

),

as_of as (

    select max(as_of_date) as data_as_of from {{ ref('int_months') }}

)

select
    cells.start_year,
    cells.department,
    coalesce(departments.department_label, 'Ukendt forvaltning')                  as department_label,
    ({{ suppress_small('cells.persons', value_expr='cells.starts') }})::integer as starts,
    ({{ suppress_small('cells.persons') }})::integer                           as persons,
    ({{ suppress_small('cells.persons', value_expr='round(cells.mean_days::numeric, 1)') }})::numeric(10, 1)
                                                                               as mean_days_referral_to_start,
    ({{ suppress_small('cells.persons', value_expr='round(cells.median_days::numeric, 1)') }})::numeric(10, 1)
                                                                               as median_days_referral_to_start,
    {{ is_small_cell('cells.persons') }}                                       as is_suppressed,
    as_of.data_as_of
from cells
left join departments
    on departments.department = cells.department
cross join as_of
