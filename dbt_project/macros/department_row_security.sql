{#-
    PostgreSQL row-level security on the department column of public marts (issue 11,
    docs/dashboards.md "Access model"). Department staff log in as `helhed_dept_<department>`,
    members of the group role `helhed_department_staff` (created by helhed.superset.access
    from superset/access.yaml); such a login reads only the rows of its own department. Every
    other role passes: the reader, leader and economy logins see all departments' aggregates,
    the table owner (dbt, the pipeline) is not subject to RLS at all. The group is looked up
    by name in pg_roles, so a cluster without it (a developer's scratch database) just lets
    every role through instead of failing.

    department_row_security()            -> post-hook SQL for the model being built (every
                                            marts model; a no-op unless it is public and has
                                            a `department` column).
    department_row_security_sql(relation) -> the SQL for one relation.
    apply_department_row_security(schema) -> run-operation: protect every table of `schema`
                                            with a `department` column (tests, repairs).
    department_row_security_on_run_end()  -> on-run-end hook (dbt_project.yml): the same for
                                            every table of the public marts' build schema,
                                            so tables the pipeline writes there outside dbt
                                            (the evaluation's programme_freed_resources_yearly,
                                            written before the budget step's dbt build) are
                                            protected before the mart gates and the publish.
-#}
{% macro department_row_security_sql(relation) -%}
    alter table {{ relation }} enable row level security;
    drop policy if exists helhed_department_rows on {{ relation }};
    create policy helhed_department_rows on {{ relation }} for select using (
        not coalesce((select pg_has_role(current_user, staff.oid, 'member')
                      from pg_roles as staff where staff.rolname = 'helhed_department_staff'), false)
        or department = substr(current_user::text, length('helhed_dept_') + 1)
    )
{%- endmacro %}

{% macro department_row_security() -%}
    {%- if execute and model.config.get('schema') == 'marts' and 'department' in model.columns -%}
        {{ department_row_security_sql(this) }}
    {%- endif -%}
{%- endmacro %}

{% macro department_tables(schema) -%}
    {#- The tables (not views) of `schema` with a `department` column, as relations. -#}
    {%- set query -%}
        select c.table_name from information_schema.columns as c
        join information_schema.tables as t
          on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
        where c.table_schema = '{{ schema }}' and c.column_name = 'department'
        order by c.table_name
    {%- endset -%}
    {%- set relations = [] -%}
    {%- for row in run_query(query).rows -%}
        {%- do relations.append(api.Relation.create(database=target.database, schema=schema, identifier=row[0])) -%}
    {%- endfor -%}
    {{- return(relations) -}}
{%- endmacro %}

{% macro apply_department_row_security(schema) -%}
    {%- for relation in department_tables(schema) -%}
        {%- do run_query(department_row_security_sql(relation)) -%}
        {{ log("department row security on " ~ relation, info=true) }}
    {%- endfor -%}
{%- endmacro %}

{% macro department_row_security_on_run_end() -%}
    {#- The hook's SQL, run and committed by dbt after a build or run: the policy on every
        department table of the public marts' build schema (none before the first build). -#}
    {%- set statements = [] -%}
    {%- if execute and flags.WHICH in ('build', 'run') -%}
        {%- for relation in department_tables(generate_schema_name('marts', none) | trim) -%}
            {%- do statements.append(department_row_security_sql(relation)) -%}
        {%- endfor -%}
    {%- endif -%}
    {{- statements | join(';\n') if statements else 'select 1' -}}
{%- endmacro %}
