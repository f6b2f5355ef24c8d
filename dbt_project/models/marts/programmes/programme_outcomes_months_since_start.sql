{#-
    Programme cohorts followed over years, for dashboards (Målgrupper, Helhedsorienterede
    forløb): per programme, cohort (start year, or `alle` for all cohorts pooled) and months
    since the start month (negative = baseline), the participants resident on the 1st, how
    many are self-supporting and the share, and their cost (direct + imputed) in total and
    per participant (fct_programme_cohort_outcomes).

    Suppression (domain brief section 8), in two steps:
    - primary: participants below 5 hide the row's numbers; the self-supporting count and
      share are also hidden when the self-supporting participants are fewer than 5 or the
      participants who are not self-supporting are 1-4 (it could be derived), as in
      employment_self_support_monthly;
    - complementary: the pooled cohort `alle` is the sum of the start-year cohorts, so the
      hidden cohorts could be recovered together as `alle` minus the visible ones. That
      difference stands for the *distinct* persons behind them (int_programme_cohort_members:
      a person re-enrolled in two hidden cohorts is one person). When they are 1-4, the
      visible cohort with the fewest participants (5 or more) is hidden too; then the same for
      the self-supporting count: when the distinct self-supporting persons or the distinct
      persons who are not self-supporting behind the hidden self-supporting counts are 1-4,
      the visible cohort with the smallest cell (5 or more) is hidden too. When every cohort is
      hidden, `alle` minus nothing is `alle` itself, which the primary rule already checks.
    is_suppressed is true when anything in the row is hidden.
-#}
{%- set min_cell = var('min_cell_size', 5) | int %}

with

outcomes as (

    select * from {{ ref('fct_programme_cohort_outcomes') }}

),

catalogue as (

    select * from {{ ref('service_catalogue') }}

),

members as (

    select * from {{ ref('int_programme_cohort_members') }}

),

cells as (

    select
        outcomes.*,
        {{ smallest_cell_of_share('participants', 'self_supporting') }}        as smallest_cell,
        cohort <> 'alle'                                                      as is_start_year_cohort
    from outcomes

),

-- Step 1: participants (and with them cost and self-support) of whole rows.

participant_groups_to_protect as (

    -- Distinct persons behind the primarily hidden start-year cohorts of a programme and
    -- month since start: what `alle` minus the visible cohorts stands for.
    select members.programme_code, members.months_since_start
    from members
    inner join cells
        on  members.programme_code = cells.programme_code
        and members.cohort = cells.cohort
        and members.months_since_start = cells.months_since_start
    where cells.is_start_year_cohort and {{ is_small_cell('cells.participants') }}
    group by members.programme_code, members.months_since_start
    having {{ is_small_cell('count(distinct members.person_id)') }}

),

complementary_rows as (

    select distinct on (cells.programme_code, cells.months_since_start)
        cells.programme_code,
        cells.months_since_start,
        cells.cohort
    from cells
    inner join participant_groups_to_protect as protect
        on  cells.programme_code = protect.programme_code
        and cells.months_since_start = protect.months_since_start
    where cells.is_start_year_cohort and cells.participants >= {{ min_cell }}
    order by cells.programme_code, cells.months_since_start, cells.participants, cells.cohort

),

rows_flagged as (

    select
        cells.*,
        {{ is_small_cell('cells.participants') }} or complementary_rows.cohort is not null  as hides_row,
        {{ is_small_cell('cells.smallest_cell') }} or complementary_rows.cohort is not null as hides_self_support
    from cells
    left join complementary_rows
        on  cells.programme_code = complementary_rows.programme_code
        and cells.months_since_start = complementary_rows.months_since_start
        and cells.cohort = complementary_rows.cohort

),

-- Step 2: the self-supporting count of the start-year cohorts.

hidden_self_support as (

    -- What `alle` minus the visible cohorts gives: the hidden cohorts' self-supporting count
    -- and the rest, standing for the distinct persons who are (not) self-supporting.
    select
        members.programme_code,
        members.months_since_start,
        count(distinct members.person_id) filter (where members.is_self_supporting)      as self_supporting,
        count(distinct members.person_id) filter (where not members.is_self_supporting)  as not_self_supporting
    from members
    inner join rows_flagged
        on  members.programme_code = rows_flagged.programme_code
        and members.cohort = rows_flagged.cohort
        and members.months_since_start = rows_flagged.months_since_start
    where rows_flagged.is_start_year_cohort and rows_flagged.hides_self_support
    group by members.programme_code, members.months_since_start

),

self_support_groups_to_protect as (

    -- ... is a small cell on either side (nobody on a side is 0, not a small cell).
    select programme_code, months_since_start
    from hidden_self_support
    where {{ is_small_cell('least(nullif(self_supporting, 0), nullif(not_self_supporting, 0))') }}

),

complementary_self_support as (

    select distinct on (rows_flagged.programme_code, rows_flagged.months_since_start)
        rows_flagged.programme_code,
        rows_flagged.months_since_start,
        rows_flagged.cohort
    from rows_flagged
    inner join self_support_groups_to_protect as protect
        on  rows_flagged.programme_code = protect.programme_code
        and rows_flagged.months_since_start = protect.months_since_start
    where rows_flagged.is_start_year_cohort and not rows_flagged.hides_self_support
      and rows_flagged.smallest_cell >= {{ min_cell }}
    order by rows_flagged.programme_code, rows_flagged.months_since_start, rows_flagged.smallest_cell,
        rows_flagged.cohort

),

flagged as (

    select
        rows_flagged.*,
        rows_flagged.hides_self_support or complementary_self_support.cohort is not null  as hides_self_supporting
    from rows_flagged
    left join complementary_self_support
        on  rows_flagged.programme_code = complementary_self_support.programme_code
        and rows_flagged.months_since_start = complementary_self_support.months_since_start
        and rows_flagged.cohort = complementary_self_support.cohort

)

select
    flagged.programme_code,
    coalesce(catalogue.service_label, flagged.programme_code)                as programme_label,
    flagged.cohort,
    flagged.months_since_start,
    (case when not flagged.hides_row then flagged.participants end)::integer  as participants,
    (case when not flagged.hides_self_supporting then flagged.self_supporting end)::integer
                                                                              as self_supporting,
    (case when not flagged.hides_self_supporting
        then round(flagged.self_supporting::numeric / nullif(flagged.participants, 0), 4) end)::numeric(6, 4)
                                                                              as self_supporting_share,
    (case when not flagged.hides_row then flagged.cost_total end)::numeric(18, 2)
                                                                              as cost_total,
    (case when not flagged.hides_row
        then round(flagged.cost_total / nullif(flagged.participants, 0), 2) end)::numeric(16, 2)
                                                                              as cost_per_participant,
    flagged.hides_row or flagged.hides_self_supporting                       as is_suppressed
from flagged
left join catalogue
    on flagged.programme_code = catalogue.service_code
