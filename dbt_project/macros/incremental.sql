{#-
    Incremental person-month facts: which months tonight's run recomputes.

    The big person-month models are incremental (delete+insert on `month`). Each run
    recomputes every month from its *batch start* to the as-of date and keeps the months
    before it. The batch start is the earlier of
    - the look-back window: var('lookback_months', 3) months before the month of the
      previous run's as-of date (the model's max(as_of_date)); and
    - change detection (var('incremental_change_detection', true)): the earliest month that a
      file loaded since the model's previous build changes. A file counts by its load
      (audit.delivery_files.file_id above the last one the model's previous build saw, kept
      in <schema>.incremental_files_seen by record_files_seen), not by the date of its folder:
      a back-dated folder loaded late is seen. Its rows still in staging count by their latest
      event (a benefit period's end, a move, a death, a service's end, a posting's period
      start, an enrolment's start less the baseline, ...), and the row versions it replaced
      by the file's changed_from: the earliest date where a replaced version differs from
      the new one (helhed.rowsql), so the months of the old version are recomputed too. A
      row of an older delivery than the staging row's changes nothing and moves nothing.
    A brand-new row whose earliest month lies before its latest event and outside the window
    (a period delivered months after it started) needs `dbt build --full-refresh`; so do
    changed seeds (code lists, target-group definitions). A model without a record of the
    files it saw (first incremental run after an upgrade) recomputes every month once. Sources
    that re-deliver their whole history every night make every night a full recompute under
    change detection (an unchanged re-delivered row takes the newer file's name); switch it off
    for them or deliver changes only.

    `entities` (a list of entity ids) limits change detection to the sources a model reads: the
    ledger and cost models are not recomputed from a month that only a CPR or a benefit
    correction touches. The default (none) watches every source.

    When the batch would recompute at least var('incremental_rebuild_share', 0.5) of the months
    in int_months (or every month: no watermark, no record of the files seen), the model is
    rebuilt like a full refresh instead (create table as select, then swap), because a
    delete+insert of most of a big table costs about 1.5 times a fresh build (measured at 360,000
    residents: 1,261 s against 868 s of model time): it deletes and re-inserts every row
    through the indexes and leaves the table twice its size. rebuild_in_full records the
    decision for should_full_refresh (macros/should_full_refresh.sql) on the model's connection.

    Returns the batch start as an ISO date string, or none for a full build.
-#}
{% macro incremental_batch_start(entities=none) -%}
    {#- Resolve every ref and source while parsing, so dbt knows the dependencies; a build that
        is not incremental (a full refresh, a unit test, which gives only the model's own inputs)
        needs none of them. -#}
    {%- if this is none or not (execute and is_incremental()) -%}
        {%- if not execute -%}
            {%- do changed_event_queries() -%}
            {%- do source('audit', 'delivery_files') -%}
        {%- elif this is not none -%}
            {%- do remember_batch_start(none) -%}
        {%- endif -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set changes = [] -%}
    {%- for change in changed_event_queries() if entities is none or change.entity in entities -%}
        {%- do changes.append(change) -%}
    {%- endfor -%}
    {%- set files = source('audit', 'delivery_files') -%}
    {%- set watermark = previous_as_of() -%}
    {%- if watermark is none -%}
        {%- do rebuild_in_full("no as-of date of its previous build") -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set lookback = var('lookback_months', 3) | int -%}
    {%- set detect = var('incremental_change_detection', true) -%}
    {%- set seen = files_seen() if detect else none -%}
    {%- if detect and seen is none -%}
        {%- do rebuild_in_full("no record of the files its previous build saw") -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set query -%}
        select least(
            (date_trunc('month', date '{{ watermark }}') - interval '{{ lookback }} months')::date
            {%- if detect and changes %},
            (
                select min(date_trunc('month', changed_on))::date
                from (
                    {%- for change in changes %}
                    select {{ change.event }} as changed_on
                    from {{ change.relation }}
                    join {{ files }} as f
                      on f.entity = '{{ change.entity }}' and f.file_name = {{ change.get('file', 'source_file') }}
                    where f.file_id > {{ seen }}
                    union all
                    {%- endfor %}
                    select changed_from
                    from {{ files }}
                    where file_id > {{ seen }} and status = 'loaded'
                      and entity in ({%- for change in changes %}'{{ change.entity }}'{{ ", " if not loop.last }}{%- endfor %})
                ) as changed
            )
            {%- endif %}
        )
    {%- endset -%}
    {%- set start = run_query(query).columns[0].values()[0] -%}
    {%- set share = batch_month_share(start) -%}
    {%- if share is not none and share >= var('incremental_rebuild_share', 0.5) | float -%}
        {%- do rebuild_in_full("incremental batch from " ~ start ~ " covers " ~ (share * 100) | round(0) | int
                                ~ " % of the months (previous as-of " ~ watermark ~ ", files after " ~ seen ~ ")") -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- do remember_batch_start(start) -%}
    {%- do log(this ~ ": incremental batch from " ~ start ~ " (previous as-of " ~ watermark ~ ", files after " ~ seen ~ ")", info=true) -%}
    {{- return(start | string) -}}
{%- endmacro %}

{#-
    The as-of date of the model's previous build: what record_files_seen kept in
    <schema>.incremental_builds (the as-of date of int_months when that build ran), or, for a model with an `as_of_date` column
    and no such record yet, the column's maximum; none (every month recomputed) otherwise.
    The ledger and cost models have no as-of column of their own, so they use the record.
-#}
{% macro previous_as_of() -%}
    {%- set table = this.schema ~ ".incremental_builds" -%}
    {%- if run_query("select to_regclass('" ~ table ~ "')").columns[0].values()[0] is not none -%}
        {%- set rows = run_query("select as_of_date from " ~ table ~ " where model = '" ~ this.identifier
            ~ "' and as_of_date is not null").columns[0].values() -%}
        {%- if rows -%}
            {{- return(rows[0]) -}}
        {%- endif -%}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {%- if 'as_of_date' in columns -%}
        {{- return(run_query("select max(as_of_date) from " ~ this).columns[0].values()[0]) -}}
    {%- endif -%}
    {{- return(none) -}}
{%- endmacro %}

{#- The last audit.delivery_files.file_id this model's previous build saw, or none. -#}
{% macro files_seen() -%}
    {%- set table = this.schema ~ ".incremental_files_seen" -%}
    {%- if run_query("select to_regclass('" ~ table ~ "')").columns[0].values()[0] is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set rows = run_query("select file_id from " ~ table ~ " where model = '" ~ this.identifier ~ "'").columns[0].values() -%}
    {{- return(rows[0] if rows else none) -}}
{%- endmacro %}

{#-
    Post-hook of every incremental person-month model: remember the last file loaded before
    this dbt invocation started (its rows are in this build), in a table next to the model,
    with the as-of date the build covered (int_months' as-of date; null
    when int_months is not built yet: the next build then recomputes every month once).
-#}
{% macro record_files_seen() -%}
    {#- models build in parallel: one creates the table, the others wait for its commit -#}
    select pg_advisory_xact_lock(hashtext('helhed.incremental_files_seen'));
    create table if not exists {{ this.schema }}.incremental_files_seen (
        model text primary key, file_id bigint not null, recorded_at timestamptz not null default now());
    insert into {{ this.schema }}.incremental_files_seen (model, file_id)
    select '{{ this.identifier }}', coalesce(max(file_id), 0) from {{ source('audit', 'delivery_files') }}
    where loaded_at <= '{{ run_started_at.isoformat() }}'::timestamptz
    on conflict (model) do update set file_id = excluded.file_id, recorded_at = now();
    {#- a table of its own, not new columns on incremental_files_seen: an ALTER there would wait
        for the models reading it in parallel while holding the lock they wait for -#}
    create table if not exists {{ this.schema }}.incremental_builds (
        model text primary key, as_of_date date, batch_start date, built_at timestamptz not null default now());
    insert into {{ this.schema }}.incremental_builds (model, as_of_date, batch_start)
    values ('{{ this.identifier }}', {{ built_as_of() }},
            nullif(current_setting('helhed.batch_start', true), '')::date)
    on conflict (model) do update set as_of_date = excluded.as_of_date, batch_start = excluded.batch_start,
        built_at = now()
{%- endmacro %}

{#- The staging relations whose changes move months: the entity that loads them and the latest event of a row. -#}
{% macro changed_event_queries() -%}
    {%- set baseline = var('programme_baseline_months', 12) | int -%}
    {{- return([
        {'relation': ref('stg_ydelser__benefit_periods'), 'entity': 'ydelser.benefit_periods', 'event': "greatest(start_date, end_date)"},
        {'relation': ref('stg_cpr__persons'), 'entity': 'cpr.persons', 'event': "greatest(birth_date, moved_in_date, moved_out_date, death_date)"},
        {'relation': ref('stg_cpr__relations') ~ " as r join " ~ ref('stg_cpr__persons') ~ " as p on r.child_person_key = p.person_key", 'entity': 'cpr.relations', 'event': "p.birth_date", 'file': "r.source_file"},
        {'relation': ref('stg_dubu__services'), 'entity': 'dubu.services', 'event': "greatest(start_date, end_date)"},
        {'relation': ref('stg_sensum__services'), 'entity': 'sensum.services', 'event': "greatest(start_date, end_date)"},
        {'relation': ref('stg_sundhed__services'), 'entity': 'sundhed.services', 'event': "greatest(start_date, end_date)"},
        {'relation': ref('stg_sundhed__cofinancing'), 'entity': 'sundhed.cofinancing', 'event': "month"},
        {'relation': ref('stg_uddannelse__education_status'), 'entity': 'uddannelse.education_status', 'event': "greatest(start_date, end_date)"},
        {'relation': ref('stg_eindkomst__employments'), 'entity': 'eindkomst.employments', 'event': "greatest(start_date, end_date)"},
        {'relation': ref('stg_helhed__enrolments'), 'entity': 'helhed.enrolments', 'event': "(start_date - interval '" ~ baseline ~ " months')::date"},
        {'relation': ref('stg_helhed__network_meetings'), 'entity': 'helhed.network_meetings', 'event': "meeting_date"},
        {'relation': ref('stg_helhed__progression'), 'entity': 'helhed.progression', 'event': "score_date"},
        {'relation': ref('stg_jobcenter__conversations'), 'entity': 'jobcenter.conversations', 'event': "conversation_date"},
        {'relation': ref('stg_jobcenter__offers'), 'entity': 'jobcenter.offers', 'event': "greatest(start_date, end_date)"},
        {'relation': ref('stg_oekonomi__postings'), 'entity': 'oekonomi.postings', 'event': "least(period_from, period_to)"},
        {'relation': ref('stg_enhedspriser__unit_prices'), 'entity': 'enhedspriser.unit_prices', 'event': "make_date(price_year::integer, 1, 1)"},
    ]) -}}
{%- endmacro %}

{#- SQL predicate `<column> >= batch start`, or `true` on a full build. -#}
{% macro in_batch(column, batch_start, months_before=0) -%}
    {%- if batch_start is none -%}
        true
    {%- elif months_before -%}
        {{ column }} >= (date '{{ batch_start }}' - interval '{{ months_before }} months')::date
    {%- else -%}
        {{ column }} >= date '{{ batch_start }}'
    {%- endif -%}
{%- endmacro %}

{#-
    The config of every incremental person-month model, in one place: delete+insert by
    month, a fail on schema drift (a new seed code means a new column: --full-refresh), an
    index on month and fresh statistics after each run. drop_months_before_window also
    deletes the months that fell out of int_months (models keyed by the whole history).
    Use: {{ config(**incremental_by_month_config(drop_months_before_window=true)) }}
-#}
{% macro incremental_by_month_config(drop_months_before_window=false) -%}
    {%- set post_hooks = [] -%}
    {%- if drop_months_before_window -%}
        {%- do post_hooks.append("delete from {{ this }} where month < (select min(month) from {{ ref('int_months') }})") -%}
    {%- endif -%}
    {%- do post_hooks.append("{{ ensure_index(['month']) }}") -%}
    {%- do post_hooks.append("{{ record_files_seen() }}") -%}
    {%- do post_hooks.append("{{ analyze_table() }}") -%}
    {{- return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': 'month',
        'on_schema_change': 'fail',
        'post_hook': post_hooks,
    }) -}}
{%- endmacro %}

{#- The as-of date of int_months (this build's when int_months is upstream of the model), or null. -#}
{% macro built_as_of() -%}
    {%- set months = ref('int_months') -%}
    {%- if execute and run_query("select to_regclass('" ~ months ~ "')").columns[0].values()[0] is not none -%}
        (select max(as_of_date) from {{ months }})
    {%- else -%}
        null::date
    {%- endif -%}
{%- endmacro %}

{#-
    The batch start the model computed while compiling, kept in a session setting of its
    connection for record_files_seen (its post-hook runs on the same connection), so the
    change detection runs once per model and night. '' for a full build.
-#}
{% macro remember_batch_start(start) -%}
    {%- do run_query("select set_config('helhed.batch_start', '" ~ (start if start is not none else '') ~ "', false)") -%}
{%- endmacro %}

{#- The sources the ledger spread and direct cost read (postings, and the function -> department mapping's inputs). -#}
{% macro ledger_entities() -%}
    {{- return(['oekonomi.postings', 'dubu.services', 'sundhed.services', 'enhedspriser.unit_prices']) -}}
{%- endmacro %}

{#- The sources the imputed cost and everything attributed from it read: activities, prices and the ledger. -#}
{% macro cost_entities() -%}
    {{- return(ledger_entities() + ['ydelser.benefit_periods', 'sensum.services', 'sundhed.cofinancing',
                                    'helhed.enrolments', 'jobcenter.conversations', 'jobcenter.offers']) -}}
{%- endmacro %}

{#-
    The share of int_months' months at or after `start` (1.0 for a start before the first
    month), or none while int_months is not built.
-#}
{% macro batch_month_share(start) -%}
    {%- set months = ref('int_months') -%}
    {%- if run_query("select to_regclass('" ~ months ~ "')").columns[0].values()[0] is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set share = run_query("select (count(*) filter (where month >= date '" ~ start ~ "'))::float8"
                              ~ " / nullif(count(*), 0) from " ~ months).columns[0].values()[0] -%}
    {{- return(share) -}}
{%- endmacro %}

{#-
    Rebuild this incremental model in full tonight (see incremental_batch_start): the model's
    select is compiled without a batch filter (the caller returns none), and
    should_full_refresh() answers true for this model on this connection, so dbt's incremental
    materialization takes its full-refresh path (create the table beside the old one, swap).
-#}
{% macro rebuild_in_full(reason) -%}
    {%- do log(this ~ ": " ~ reason ~ ": rebuilt in full", info=true) -%}
    {%- do remember_batch_start(none) -%}
    {%- do run_query("select set_config('helhed.rebuild_in_full', '" ~ this ~ "', false)") -%}
{%- endmacro %}
