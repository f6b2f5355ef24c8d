{#-
    Breakdowns shared by the dashboard marts (models/marts/dashboards).

    department_memberships(alias) -> a `cross join lateral (values ...)` that repeats a
      fct_person_month row once per department the person is active in that month
      (is_active_<department>, seed departments with is_service_department), as columns
      `department`, `department_label`.
    target_group_memberships(alias) -> the same for the target groups in force
      (tg_<target_group>, seed target_group_definitions), plus `alle` (everybody), as columns
      `target_group`, `target_group_label`.
    age_band(age_expr) -> the Danish age band label of an age in years.
-#}
{% macro department_memberships(alias) -%}
    cross join lateral (
        values
        {%- for row in seed_rows('departments', where='is_service_department', order_by='sort_order') %}
            ('{{ row["department"] }}', '{{ row["department_label"] | replace("'", "''") }}', {{ alias }}.is_active_{{ row["department"] }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as memberships_department (department, department_label, is_member)
{%- endmacro %}

{% macro target_group_memberships(alias) -%}
    cross join lateral (
        values
            ('alle', 'Alle borgere', true),
        {%- for row in current_target_groups() %}
            ('{{ row["target_group"] }}', '{{ row["target_group_label"] | replace("'", "''") }}', {{ alias }}.tg_{{ row["target_group"] }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as memberships_target_group (target_group, target_group_label, is_member)
{%- endmacro %}

{% macro age_band(age_expr) -%}
    case
        when {{ age_expr }} is null then 'ukendt'
        when {{ age_expr }} < 18 then '0-17 år'
        when {{ age_expr }} < 30 then '18-29 år'
        when {{ age_expr }} < 50 then '30-49 år'
        when {{ age_expr }} < 65 then '50-64 år'
        else '65 år og derover'
    end
{%- endmacro %}
