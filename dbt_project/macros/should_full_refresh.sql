{#-
    dbt's should_full_refresh(), overridden by the root project: true when the run asks for a
    full refresh (--full-refresh or the model's full_refresh config), and also when
    incremental_batch_start decided, while compiling this model on this connection, that
    tonight's batch is most of the table (macros/incremental.sql, rebuild_in_full). The
    incremental materialization then creates the table beside the old one and swaps, and
    is_incremental() is false from then on, as on a full refresh.
-#}
{% macro should_full_refresh() %}
    {%- set configured = config.get('full_refresh') -%}
    {%- if configured is none -%}
        {%- set configured = flags.FULL_REFRESH -%}
    {%- endif -%}
    {%- if not configured and execute and this is not none and model is defined
          and model.config.materialized == 'incremental' -%}
        {%- set marked = run_query("select current_setting('helhed.rebuild_in_full', true)").columns[0].values()[0] -%}
        {%- set configured = marked == (this | string) -%}
    {%- endif -%}
    {%- do return(configured) -%}
{% endmacro %}
