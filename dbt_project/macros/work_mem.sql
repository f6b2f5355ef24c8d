{#-
    Pre-hook for the big person-month models: more memory for their sorts and hash joins
    than the server default (64MB), for this transaction only (`set local`).
    var('big_model_work_mem', '512MB').
-#}
{% macro big_work_mem() -%}
    set local work_mem = '{{ var("big_model_work_mem", "512MB") }}'
{%- endmacro %}
