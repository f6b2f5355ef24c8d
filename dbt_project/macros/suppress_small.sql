{#
    Small-cell suppression for public marts (domain brief section 8).

    is_small_cell(count_expr)  -> boolean SQL: the count is below the minimum cell size.
    suppress_small(count_expr) -> the count, or null when it is a small cell.
    suppress_small(count_expr, value_expr=...) -> a measure derived from the count, or null
                                  when the count is a small cell.

    min_persons defaults to var('min_cell_size', 5).
#}
{% macro _min_cell_size(min_persons) -%}
    {%- set n = min_persons if min_persons is not none else var('min_cell_size', 5) -%}
    {%- if not modules.re.fullmatch('[1-9][0-9]*', n | string | trim) -%}
        {{ exceptions.raise_compiler_error("min_cell_size must be a positive whole number, got " ~ n) }}
    {%- endif -%}
    {{- n | int -}}
{%- endmacro %}

{% macro is_small_cell(count_expr, min_persons=none) -%}
    (coalesce({{ count_expr }}, 0) < {{ _min_cell_size(min_persons) }})
{%- endmacro %}

{% macro suppress_small(count_expr, min_persons=none, value_expr=none) -%}
    case
        when {{ is_small_cell(count_expr, min_persons) }} then null
        else {{ value_expr if value_expr is not none else count_expr }}
    end
{%- endmacro %}

{#
    smallest_cell_of_share(total_expr, part_expr) -> the smallest count a reader can see or
    derive from a published share: the total, the part, and the total minus the part (when
    the part is not the whole total). Used for self-support shares, where the persons who are
    *not* self-supporting must not be a small cell either.
#}
{% macro smallest_cell_of_share(total_expr, part_expr) -%}
    least(
        {{ total_expr }},
        {{ part_expr }},
        case when {{ total_expr }} = {{ part_expr }} then {{ total_expr }} else {{ total_expr }} - {{ part_expr }} end
    )
{%- endmacro %}
