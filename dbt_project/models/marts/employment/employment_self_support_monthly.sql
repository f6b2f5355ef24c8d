{#-
    Residents aged 16-64 on the first day of the month, and how many of them have no day of
    public income support in the month (self-supporting). Besides the counts themselves, the
    complement (residents who are not self-supporting) must not be a small non-zero cell,
    or it could be derived by subtraction.
-#}
with

months as (

    select * from {{ ref('int_months') }}

),

residents as (

    select * from {{ ref('int_residents_monthly') }}
    where age_years between 16 and 64

),

person_months as (

    select * from {{ ref('fct_person_month') }}

),

aggregated as (

    select
        months.month,
        count(residents.person_key)                   as residents_16_64,
        count(residents.person_key) filter (
            where coalesce(person_months.is_self_supporting, true)
        )                                             as self_supporting
    from months
    left join residents
        on residents.month = months.month
    left join person_months
        on  person_months.person_key = residents.person_key
        and person_months.month = residents.month
    group by months.month

),

cells as (

    select
        *,
        -- The smallest count a reader could see or derive from this row: residents,
        -- self-supporting, and residents not self-supporting (when there are any).
        least(
            residents_16_64,
            self_supporting,
            case
                when residents_16_64 - self_supporting = 0 then residents_16_64
                else residents_16_64 - self_supporting
            end
        ) as smallest_cell
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
    {{ is_small_cell('smallest_cell') }}                                      as is_suppressed
from cells
