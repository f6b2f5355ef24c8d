{#-
    Target groups (domain brief section 5) are data, not SQL: each row of the seed
    target_group_definitions names a rule kind and its parameters, and the highest version of
    each target group is in force. This macro turns a definition into a SQL condition over
    the columns of int_person_months (plus `cost_rank`, `residents_in_month` and the
    household flag `household_tg_<target_group>` that int_person_month_target_groups adds).

    current_target_groups() -> the definitions in force, one dict per target group.
    target_group_condition(definition) -> SQL boolean.
-#}
{% macro current_target_groups(rule=none) -%}
    {%- set latest = {} -%}
    {%- for row in seed_rows('target_group_definitions', order_by='target_group, version') -%}
        {%- if not modules.re.fullmatch('[a-z][a-z0-9_]*', row['target_group'] | string) -%}
            {{ exceptions.raise_compiler_error("target group '" ~ row['target_group'] ~ "' is not a valid column suffix") }}
        {%- endif -%}
        {%- do latest.update({row['target_group']: row}) -%}
    {%- endfor -%}
    {%- set out = [] -%}
    {%- for name in latest | sort -%}
        {%- if rule is none or latest[name]['rule'] == rule -%}
            {%- do out.append(latest[name]) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(out) -}}
{%- endmacro %}

{#- A `|`-separated seed value as a SQL text array literal. -#}
{% macro _text_array(value) -%}
    {%- set items = [] -%}
    {%- for item in ((value or '') | string).split('|') if item | trim -%}
        {%- if not modules.re.fullmatch('[A-Za-z0-9_:.-]+', item | trim) -%}
            {{ exceptions.raise_compiler_error("target-group list item '" ~ item ~ "' has characters that are not allowed") }}
        {%- endif -%}
        {%- do items.append("'" ~ (item | trim) ~ "'") -%}
    {%- endfor -%}
    array[{{ items | join(', ') }}]::text[]
{%- endmacro %}

{#- A number from the seed, checked (it goes into SQL). -#}
{% macro _number(value, what) -%}
    {%- if value is none or not modules.re.fullmatch('[0-9]+(\.[0-9]+)?', value | string) -%}
        {{ exceptions.raise_compiler_error("target group needs a numeric " ~ what ~ ", got '" ~ value ~ "'") }}
    {%- endif -%}
    {{- value -}}
{%- endmacro %}

{% macro target_group_condition(definition) -%}
    {%- set rule = definition['rule'] -%}
    {%- if rule == 'min_departments' -%}
        (departments_active >= {{ _number(definition['threshold'], 'threshold') }})
    {%- elif rule == 'min_concurrent_services' -%}
        (concurrent_services >= {{ _number(definition['threshold'], 'threshold') }})
    {%- elif rule == 'complex_family' -%}
        coalesce(household_tg_{{ definition['target_group'] }}, false)
    {%- elif rule == 'income_support_with_service' -%}
        (income_support_days > 0
        {%- if definition['min_age'] is not none %} and age_years >= {{ _number(definition['min_age'], 'min_age') }}{% endif %}
        {%- if definition['max_age'] is not none %} and age_years <= {{ _number(definition['max_age'], 'max_age') }}{% endif %}
        and (false
            {%- if definition['purposes'] %} or service_purposes && {{ _text_array(definition['purposes']) }}{% endif %}
            {%- if definition['service_departments'] %} or service_departments && {{ _text_array(definition['service_departments']) }}{% endif %}
        ))
    {%- elif rule == 'all_services' -%}
        (service_codes @> {{ _text_array(definition['services']) }})
    {%- elif rule == 'top_cost_pct' -%}
        (is_resident and trailing_12m_cost > 0
         and cost_rank <= ceil(residents_in_month * {{ _number(definition['threshold'], 'threshold') }} / 100.0))
    {%- else -%}
        {{ exceptions.raise_compiler_error("unknown target-group rule '" ~ rule ~ "' for " ~ definition['target_group']) }}
    {%- endif -%}
{%- endmacro %}

{#- The household condition of a complex_family definition, over int_household_months' inputs. -#}
{% macro complex_family_condition(definition) -%}
    (bool_or(member_role = 'child' and service_purposes && {{ _text_array(definition['purposes']) }})
     and bool_or(member_role = 'parent' and income_support_days > 0))
{%- endmacro %}
