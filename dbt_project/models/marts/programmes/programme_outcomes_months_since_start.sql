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
    - complementary: the pooled cohort `alle` is the sum of the start-year cohorts, so a
      single hidden cohort could be recovered as `alle` minus the visible ones. When the
      hidden start-year cohorts of a programme and month since start stand for fewer than 5
      participants, the visible cohort with the fewest participants is hidden too; then the
      same for the self-supporting count: when the hidden cohorts' participants and
      self-supporting persons taken together would be a small cell, the visible cohort with
      the smallest cell is hidden too. When every cohort is hidden, `alle` minus nothing is
      `alle` itself, which the primary rule already checks.
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

cells as (

    select
        outcomes.*,
        {{ smallest_cell_of_share('participants', 'self_supporting') }}        as smallest_cell,
        cohort <> 'alle'                                                      as is_start_year_cohort
    from outcomes

),

-- Step 1: participants (and with them cost and self-support) of whole rows.

participant_groups_to_protect as (

    select programme_code, months_since_start
    from cells
    where is_start_year_cohort
    group by programme_code, months_since_start
    having count(*) filter (where {{ is_small_cell('participants') }}) > 0
        and sum(participants) filter (where {{ is_small_cell('participants') }}) < {{ min_cell }}

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

    -- What `alle` minus the visible cohorts gives: the hidden cohorts' participants and
    -- self-supporting persons together.
    select
        programme_code,
        months_since_start,
        sum(participants)     as participants,
        sum(self_supporting)  as self_supporting
    from rows_flagged
    where is_start_year_cohort and hides_self_support
    group by programme_code, months_since_start

),

self_support_groups_to_protect as (

    -- ... is itself a small cell by the primary rule (the smaller side, self-supporting or
    -- not; nobody self-supporting counts as 0).
    select programme_code, months_since_start
    from hidden_self_support
    where {{ is_small_cell(smallest_cell_of_share('participants', 'self_supporting')) }}

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
