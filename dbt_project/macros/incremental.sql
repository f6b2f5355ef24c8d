{#-
    Incremental person-month facts: which months tonight's run recomputes.

    The big person-month models are incremental (delete+insert on `month`). Each run
    recomputes every month from its *batch start* to the as-of date and keeps the months
    before it. The batch start is the earlier of
    - the look-back window: var('lookback_months', 3) months before the month of the
      previous run's as-of date (the model's max(as_of_date)), for late corrections; and
    - change detection (var('incremental_change_detection', true)): the earliest month that
      a row delivered after the previous as-of date can change, by the row's latest event
      (a benefit period's end, a move, a death, a service's end, a posting's period start,
      an enrolment's start less the baseline, ...).
    A correction of an older event (e.g. a moving-in date moved a year back) that is
    neither in the window nor the row's latest event needs `dbt build --full-refresh`; so
    do changed seeds (code lists, target-group definitions). Sources that re-deliver their
    whole history every night make every night a full recompute under change detection;
    switch it off for them or deliver changes only.

    Returns the batch start as an ISO date string, or none for a full build.
-#}
{% macro incremental_batch_start() -%}
    {#- Resolve every ref while parsing, so dbt knows the dependencies. -#}
    {%- set changes = changed_event_queries() -%}
    {%- if not (execute and is_incremental()) -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set watermark = run_query("select max(as_of_date) from " ~ this).columns[0].values()[0] -%}
    {%- if watermark is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set lookback = var('lookback_months', 3) | int -%}
    {%- set query -%}
        select least(
            (date_trunc('month', date '{{ watermark }}') - interval '{{ lookback }} months')::date
            {%- if var('incremental_change_detection', true) %},
            (
                select min(date_trunc('month', changed_on))::date
                from (
                    {%- for change in changes %}
                    select {{ change.event }} as changed_on
                    from {{ change.relation }}
                    where {{ change.get('delivered', 'delivery_date') }} > date '{{ watermark }}'
                    {%- if not loop.last %}
                    union all
                    {%- endif %}
                    {%- endfor %}
                ) as changed
            )
            {%- endif %}
        )
    {%- endset -%}
    {%- set start = run_query(query).columns[0].values()[0] -%}
    {%- do log(this ~ ": incremental batch from " ~ start ~ " (previous as-of " ~ watermark ~ ")", info=true) -%}
    {{- return(start | string) -}}
{%- endmacro %}

{#- The staging relations whose changes move months, and the latest event of a row. -#}
{% macro changed_event_queries() -%}
    {%- set baseline = var('programme_baseline_months', 12) | int -%}
    {{- return([
        {'relation': ref('stg_ydelser__benefit_periods'), 'event': "greatest(start_date, end_date)"},
        {'relation': ref('stg_cpr__persons'), 'event': "greatest(birth_date, moved_in_date, moved_out_date, death_date)"},
        {'relation': ref('stg_cpr__relations') ~ " as r join " ~ ref('stg_cpr__persons') ~ " as p on r.child_person_key = p.person_key", 'event': "p.birth_date", 'delivered': "r.delivery_date"},
        {'relation': ref('stg_dubu__services'), 'event': "greatest(start_date, end_date)"},
        {'relation': ref('stg_sensum__services'), 'event': "greatest(start_date, end_date)"},
        {'relation': ref('stg_sundhed__services'), 'event': "greatest(start_date, end_date)"},
        {'relation': ref('stg_sundhed__cofinancing'), 'event': "month"},
        {'relation': ref('stg_uddannelse__education_status'), 'event': "greatest(start_date, end_date)"},
        {'relation': ref('stg_eindkomst__employments'), 'event': "greatest(start_date, end_date)"},
        {'relation': ref('stg_helhed__enrolments'), 'event': "(start_date - interval '" ~ baseline ~ " months')::date"},
        {'relation': ref('stg_helhed__network_meetings'), 'event': "meeting_date"},
        {'relation': ref('stg_helhed__progression'), 'event': "score_date"},
        {'relation': ref('stg_oekonomi__postings'), 'event': "least(period_from, period_to)"},
        {'relation': ref('stg_enhedspriser__unit_prices'), 'event': "make_date(price_year::integer, 1, 1)"},
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
    {%- do post_hooks.append("{{ analyze_table() }}") -%}
    {{- return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': 'month',
        'on_schema_change': 'fail',
        'post_hook': post_hooks,
    }) -}}
{%- endmacro %}
