{#-
    How much of a calendar month the data covers, given the warehouse's as-of date (the
    latest delivery of benefit periods, int_months.as_of_date).

    days_covered(month, as_of)      -> integer: the days of the month on or before the as-of
                                       date (the calendar length for a month that ended, as-of
                                       date - month + 1 for the current month, 0 for a month
                                       after it). Jobindsats' full-time persons divide benefit
                                       days by the days of the period: for the current month
                                       that is this number, not the calendar length.
    is_complete_month(month, as_of) -> boolean: the whole month lies on or before the as-of
                                       date. Every public mart with a month grain publishes it
                                       (is_complete_month) beside days_covered.
-#}
{% macro days_covered(month_expr, as_of_expr) -%}
    greatest(
        least(
            ({{ month_expr }} + interval '1 month')::date,
            ({{ as_of_expr }} + 1)
        ) - {{ month_expr }},
        0
    )::integer
{%- endmacro %}

{% macro is_complete_month(month_expr, as_of_expr) -%}
    (({{ month_expr }} + interval '1 month' - interval '1 day')::date <= {{ as_of_expr }})
{%- endmacro %}
