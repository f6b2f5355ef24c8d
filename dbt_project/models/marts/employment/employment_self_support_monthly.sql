{#-
    Residents aged 16-64 on the first day of the month, and how many of them have no day on
    any of the benefit groups the warehouse receives (the eleven Jobindsats groups of the
    jobcenter's delivery with is_income_support) in the month: self-supporting *as counted
    here*. Benefits the warehouse does not receive (efterløn, seniorpension, folkepension,
    barselsdagpenge, SU, ...) are not seen, so their recipients count as self-supporting,
    unlike in Statistics Denmark's definition. In the month of the as-of date only the days
    up to it are seen (is_complete_month false, days_covered). Residents come from
    int_residents_aggregated_to_months; the residents who are not self-supporting are the
    rows of fct_person_month with a day of income support whose person is resident and
    16-64 on the 1st (the same rule and age as int_residents_monthly). Besides the counts
    themselves, the complement (residents who are not self-supporting) must not be a small
    non-zero cell, or it could be derived by subtraction.
-#}
with

months as (

    select * from {{ ref('int_months') }}

),

residents as (

    select month, sum(residents) as residents_16_64
    from {{ ref('int_residents_aggregated_to_months') }}
    where age_years between 16 and 64
    group by month

),

not_self_supporting as (

    select month, count(*) as residents_not_self_supporting
    from {{ ref('fct_person_month') }}
    where is_resident and age_years between 16 and 64 and not is_self_supporting
    group by month

),

aggregated as (

    select
        months.month,
        months.is_complete,
        months.days_covered,
        coalesce(residents.residents_16_64, 0)                             as residents_16_64,
        coalesce(residents.residents_16_64, 0)
            - coalesce(not_self_supporting.residents_not_self_supporting, 0)  as self_supporting
    from months
    left join residents
        on residents.month = months.month
    left join not_self_supporting
        on not_self_supporting.month = months.month

),

cells as (

    select
        *,
        -- The smallest count a reader could see or derive from this row: residents,
        -- self-supporting, and residents not self-supporting (when there are any).
        {{ smallest_cell_of_share('residents_16_64', 'self_supporting') }} as smallest_cell
    from aggregated

)

select
    month,
    ({{ suppress_small('residents_16_64') }})::integer                        as residents_16_64,
    ({{ suppress_small('smallest_cell', value_expr='self_supporting') }})::integer
                                                                              as self_supporting,
    ({{ suppress_small(
        'smallest_cell',
        value_expr='round(self_supporting::numeric / residents_16_64, 4)'
    ) }})::numeric(6, 4)                                                      as self_supporting_share,
    {{ is_small_cell('smallest_cell') }}                                      as is_suppressed,
    is_complete                                                               as is_complete_month,
    days_covered
from cells
