{#-
    Read a code list (a seed) at compile time, for models that generate one column per code
    (ftp_<benefit_group>, cost_direct_<department>, tg_<target_group>). The seed must be loaded
    before the model compiles; `dbt build` loads seeds first. Every value must be a valid
    column-name suffix.

    seed_values('benefit_groups', 'benefit_group')                         -> ['a_dagpenge', ...]
    seed_values('departments', 'department', where='is_cost_department')    -> ['beskaeftigelse', ...]
    seed_rows('target_group_definitions', where=...)                        -> list of dicts
-#}
{% macro seed_values(seed_name, column, where=none) -%}
    {#- Resolve the ref while parsing too, so dbt records the dependency. -#}
    {%- set relation = ref(seed_name) -%}
    {%- set values = [] -%}
    {%- if execute -%}
        {%- for row in seed_rows(seed_name, where=where, order_by=column) -%}
            {%- set value = row[column] -%}
            {%- if not modules.re.fullmatch('[a-z][a-z0-9_]*', value | string) -%}
                {{ exceptions.raise_compiler_error(seed_name ~ "." ~ column ~ " value '" ~ value ~ "' is not a valid column suffix") }}
            {%- endif -%}
            {%- if value not in values -%}
                {%- do values.append(value) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(values) -}}
{%- endmacro %}

{% macro seed_rows(seed_name, where=none, order_by=none) -%}
    {%- set relation = ref(seed_name) -%}
    {%- set rows = [] -%}
    {%- if execute -%}
        {%- if load_relation(relation) is none -%}
            {{ exceptions.raise_compiler_error("Seed " ~ seed_name ~ " is not loaded into " ~ relation ~ "; run `dbt seed` (or `dbt build`) first.") }}
        {%- endif -%}
        {%- set query -%}
            select * from {{ relation }}
            {%- if where %} where {{ where }}{% endif %}
            {%- if order_by %} order by {{ order_by }}{% endif %}
        {%- endset -%}
        {%- set result = run_query(query) -%}
        {%- for row in result.rows -%}
            {%- set record = {} -%}
            {%- for name in result.column_names -%}
                {%- do record.update({name: row[name]}) -%}
            {%- endfor -%}
            {%- do rows.append(record) -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(rows) -}}
{%- endmacro %}
