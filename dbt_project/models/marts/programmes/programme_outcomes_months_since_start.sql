{#-
    Programme cohorts followed over years, for dashboards (Målgrupper): per programme,
    cohort (start year, or `alle` for all cohorts pooled) and months since the start month
    (negative = baseline), the participants resident on the 1st, how many are
    self-supporting and the share, and their cost (direct + imputed) in total and per
    participant (fct_programme_cohort_outcomes). Small cells are suppressed: participants
    below 5 hide the row's numbers; the self-supporting count and share are also hidden
    when the self-supporting participants are fewer than 5 or the participants who are not
    self-supporting are 1-4 (it could be derived), as in employment_self_support_monthly. is_suppressed is true when anything in the row is hidden.
-#}
with

outcomes as (

    select * from {{ ref('fct_programme_cohort_outcomes') }}

),

catalogue as (

    select * from {{ ref('service_catalogue') }}

),

cells as (

    select
        outcomes.*,
        least(
            participants,
            self_supporting,
            case when participants - self_supporting = 0 then participants else participants - self_supporting end
        )                                                                     as smallest_cell
    from outcomes

)

select
    cells.programme_code,
    coalesce(catalogue.service_label, cells.programme_code)                   as programme_label,
    cells.cohort,
    cells.months_since_start,
    ({{ suppress_small('cells.participants') }})::integer                     as participants,
    ({{ suppress_small('cells.smallest_cell', value_expr='cells.self_supporting') }})::integer
                                                                              as self_supporting,
    ({{ suppress_small(
        'cells.smallest_cell',
        value_expr='round(cells.self_supporting::numeric / cells.participants, 4)'
    ) }})::numeric(6, 4)                                                      as self_supporting_share,
    ({{ suppress_small('cells.participants', value_expr='cells.cost_total') }})::numeric(18, 2)
                                                                              as cost_total,
    ({{ suppress_small(
        'cells.participants',
        value_expr='round(cells.cost_total / cells.participants, 2)'
    ) }})::numeric(16, 2)                                                     as cost_per_participant,
    {{ is_small_cell('cells.smallest_cell') }}                                as is_suppressed
from cells
left join catalogue
    on cells.programme_code = catalogue.service_code
