{#-
    Kontoplan function `h.hf.ff` from a 9-digit ledger account string:
    `528201003` -> `5.28.20` (function 5.28.20, dranst 1, grouping 003).
-#}
{% macro kontoplan_function_of_account(account_expr) -%}
    (substr({{ account_expr }}, 1, 1) || '.' || substr({{ account_expr }}, 2, 2) || '.' || substr({{ account_expr }}, 4, 2))
{%- endmacro %}
