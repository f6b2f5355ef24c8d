{#- Rows where a boolean SQL expression is not true fail (a small stand-in for dbt_utils'). -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
