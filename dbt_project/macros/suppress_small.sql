{#
    Small-cell suppression for public marts (domain brief section 8).

    The zero rule (docs/warehouse.md, Suppression): a count of 0 persons is published as 0 and
    is not suppressed (it stands for nobody); a count of 1 to min_cell_size - 1 is a small
    cell and is replaced by null. So in every public mart a null count is a hidden cell
    (1-4 persons, or a cell hidden by complementary suppression), never a zero.

    is_small_cell(count_expr)  -> boolean SQL: the count is 1 .. min_cell_size - 1.
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
    (coalesce({{ count_expr }}, 0) between 1 and {{ _min_cell_size(min_persons) | int - 1 }})
{%- endmacro %}

{% macro suppress_small(count_expr, min_persons=none, value_expr=none) -%}
    case
        when {{ is_small_cell(count_expr, min_persons) }} then null
        else {{ value_expr if value_expr is not none else count_expr }}
    end
{%- endmacro %}

{#
    smallest_cell_of_share(total_expr, part_expr) -> the smallest non-zero count a reader can
    see or derive from a published share: the total, the part, and the total minus the part;
    0 when all of them are 0. Used for self-support shares, where the persons who are *not*
    self-supporting must not be a small cell either.
#}
{% macro smallest_cell_of_share(total_expr, part_expr) -%}
    coalesce(
        least(
            nullif({{ total_expr }}, 0),
            nullif({{ part_expr }}, 0),
            nullif({{ total_expr }} - {{ part_expr }}, 0)
        ),
        0
    )
{%- endmacro %}
