{{ config(severity='warn') }}
{#-
    Two periods of the same benefit group for the same person should not overlap (the source
    would pay the benefit twice). The warehouse caps the days per group at the days of the
    month, so this is a data-quality warning, not an error.
-#}
with

periods as (

    select distinct
        period_id,
        person_key,
        benefit_group,
        start_date,
        effective_end_date
    from {{ ref('int_benefit_periods_clipped_to_months') }}

)

select
    a.person_key,
    a.benefit_group,
    a.period_id  as period_id,
    b.period_id  as overlapping_period_id,
    a.start_date,
    a.effective_end_date,
    b.start_date as overlapping_start_date,
    b.effective_end_date as overlapping_effective_end_date
from periods as a
inner join periods as b
    on  a.person_key = b.person_key
    and a.benefit_group = b.benefit_group
    and a.period_id < b.period_id
    and a.start_date <= b.effective_end_date
    and b.start_date <= a.effective_end_date
