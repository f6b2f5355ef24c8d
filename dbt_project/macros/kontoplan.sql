{#-
    The parts of a 9-digit ledger account string of the authorised municipal chart of
    accounts (kontoplan), e.g. `528201003`:
    - digits 1-5: the function `h.hf.ff` -> `5.28.20`;
    - digit 6: the dranst (1 operations, 2 state refunds, 3 construction, ...; seed
      kontoplan_dranst) -> `1`;
    - digits 7-9: the grouping (gruppering) -> `003`.
    Staging keeps the account string as delivered; these macros are applied in intermediate.
-#}
{% macro kontoplan_function_of_account(account_expr) -%}
    (substr({{ account_expr }}, 1, 1) || '.' || substr({{ account_expr }}, 2, 2) || '.' || substr({{ account_expr }}, 4, 2))
{%- endmacro %}

{% macro kontoplan_dranst_of_account(account_expr) -%}
    substr({{ account_expr }}, 6, 1)
{%- endmacro %}

{% macro kontoplan_grouping_of_account(account_expr) -%}
    substr({{ account_expr }}, 7, 3)
{%- endmacro %}

{#-
    The basis on which cost is attributed to persons, chosen by the economy department with
    var('cost_attribution_basis') (default `gross`, dbt_project.yml; docs/warehouse.md):
    - `gross`: gross operating cost (dranst 1). Direct cost = operating postings with a CPR.
    - `net`:   net operating cost (dranst 1 + dranst 2). Direct cost also takes the refunds
               posted with a CPR; refunds without a CPR are apportioned to the persons with
               attributed gross cost on the function and month
               (int_refunds_apportioned_to_person_months).
    Anything else stops the build with a message naming the variable.
-#}
{% macro cost_attribution_basis() -%}
    {%- set basis = var('cost_attribution_basis', 'gross') | string | trim | lower -%}
    {%- if basis not in ['gross', 'net'] -%}
        {{ exceptions.raise_compiler_error(
            "var cost_attribution_basis must be 'gross' or 'net', got '" ~ basis ~ "'") }}
    {%- endif -%}
    {{- return(basis) -}}
{%- endmacro %}
