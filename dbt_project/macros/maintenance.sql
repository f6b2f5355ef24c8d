{#-
    Post-hooks for big tables.

    ensure_index(['month']): create a b-tree index on the columns unless this table already
    has one with exactly these columns (incremental runs keep the index; a full refresh
    builds a new table and so a new index). Index names are left to PostgreSQL, so a table
    renamed away by a full refresh never blocks the new one's index.
    analyze_table(): refresh the planner statistics right after a bulk build, so the next
    model's joins are planned on real row counts.
-#}
{% macro ensure_index(columns) -%}
    {%- set cols = columns | join(', ') -%}
    do $ensure_index$
    begin
        if not exists (
            select 1
            from pg_indexes
            where schemaname = '{{ this.schema }}'
              and tablename = '{{ this.identifier }}'
              and indexdef like '%({{ cols }})'
        ) then
            execute 'create index on {{ this }} ({{ cols }})';
        end if;
    end
    $ensure_index$
{%- endmacro %}

{% macro analyze_table() -%}
    analyze {{ this }}
{%- endmacro %}
