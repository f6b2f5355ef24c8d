{#-
    Data tests on the big incremental tables check the months tonight's build recomputed;
    the whole table is checked weekly (on Sundays by the clock of the run) or whenever
    var('test_whole_tables') is true (`dbt build --vars '{test_whole_tables: true}'`).

    A test whose `where` config holds the placeholder __rebuilt_months__ (dbt_project.yml sets
    it for every test of the intermediate layer) gets `month >= <batch start>` for a model
    incremental by month (its batch start is recorded in
    <schema>.incremental_builds by record_files_seen), and `true` for
    any other model, for a full build (no batch start recorded) and on whole-table nights.
    The months before the batch start were tested on the night they were built and are not
    touched since; the weekly run re-checks them all.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and '__rebuilt_months__' in where -%}
        {%- set where = where | replace('__rebuilt_months__', rebuilt_months(relation)) -%}
    {%- endif -%}
    {%- if where and where | trim != 'true' -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- `month >= date '<batch start>'` for an incremental-by-month model's rebuilt months, else `true`. -#}
{% macro rebuilt_months(relation) -%}
    {%- if not execute or relation is none or relation.schema is none
          or var('test_whole_tables', run_started_at.weekday() == 6) -%}
        {{- return('true') -}}
    {%- endif -%}
    {%- set table = relation.schema ~ ".incremental_builds" -%}
    {%- if run_query("select to_regclass('" ~ table ~ "')").columns[0].values()[0] is none -%}
        {{- return('true') -}}
    {%- endif -%}
    {%- set rows = run_query("select batch_start from " ~ table ~ " where model = '" ~ relation.identifier
        ~ "' and batch_start is not null").columns[0].values() -%}
    {{- return("month >= date '" ~ rows[0] ~ "'" if rows else 'true') -}}
{%- endmacro %}
