{#
    Every model lands in <target schema>_<custom schema>: with target `build` (schema `build`)
    staging -> build_stg, intermediate -> build_int, person marts -> build_restricted,
    public marts -> build_marts, seeds -> build_seeds. Nodes without a custom schema land in
    the target schema itself. This is dbt's default rule, written out so that nobody changes
    it by accident: helhed.publish relies on these names.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set default_schema = target.schema -%}
    {%- if custom_schema_name is none -%}
        {{ default_schema }}
    {%- else -%}
        {{ default_schema }}_{{ custom_schema_name | trim | lower }}
    {%- endif -%}
{%- endmacro %}
