{#-
    months_from_to(first_month, last_month) -> integer SQL: the calendar months from the month
    of `first_month` to the month of `last_month`, both included (2025-03-01 .. 2025-05-01 -> 3).
-#}
{% macro months_from_to(first_month, last_month) -%}
    ((extract(year from {{ last_month }}) * 12 + extract(month from {{ last_month }}))
     - (extract(year from {{ first_month }}) * 12 + extract(month from {{ first_month }})) + 1)::integer
{%- endmacro %}
