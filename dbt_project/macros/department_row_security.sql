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

{% macro apply_department_row_security(schema) -%}
    {%- set query -%}
        select table_name from information_schema.columns
        where table_schema = '{{ schema }}' and column_name = 'department'
        order by table_name
    {%- endset -%}
    {%- for row in run_query(query).rows -%}
        {%- set relation = api.Relation.create(database=target.database, schema=schema, identifier=row[0]) -%}
        {%- do run_query(department_row_security_sql(relation)) -%}
        {{ log("department row security on " ~ relation, info=true) }}
    {%- endfor -%}
{%- endmacro %}
