{#-
    Target groups (domain brief section 5) are data, not SQL: each row of the seed
    target_group_definitions names a rule kind and its parameters, and the highest version of
    each target group is in force. This macro turns a definition into a SQL condition over
    the columns of int_person_months (plus `cost_rank`, `residents_in_month` and the
    household flag `household_tg_<target_group>` that int_person_month_target_groups adds).

    The rule kinds are interpreted in ONE place, target_group_rule(): for each kind it gives
    both the SQL condition that counts persons and the SQL expression of its Danish text
    (target_groups_definitions), so the text cannot describe another rule than the one counted.

    current_target_groups() -> the definitions in force, one dict per target group.
    target_group_condition(definition) -> SQL boolean.
    target_group_rule_text() -> SQL text expression over target_groups_definitions' columns.
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

{#-
    The one switch over the rule kinds. part='condition': the SQL boolean over
    int_person_months' columns for `definition` (a seed row). part='text': a SQL text
    expression of the rule in Danish over the columns of target_groups_definitions (threshold,
    and the codes as Danish labels: purposes_text, departments_text, services_text); the age
    limits are added by target_group_rule_text() for every kind alike.
-#}
{% macro target_group_rule(rule, part, definition=none) -%}
    {%- set text = part == 'text' -%}
    {%- if part not in ('condition', 'text') -%}
        {{ exceptions.raise_compiler_error("target_group_rule part must be 'condition' or 'text', not '" ~ part ~ "'") }}
    {%- endif -%}
    {%- if rule == 'min_departments' -%}
        {%- if text -%}
        'Kontakt med mindst ' || threshold::integer || ' forvaltninger i samme måned'
        {%- else -%}
        (departments_active >= {{ _number(definition['threshold'], 'threshold') }})
        {%- endif -%}
    {%- elif rule == 'min_concurrent_services' -%}
        {%- if text -%}
        'Mindst ' || threshold::integer || ' samtidige ydelser i samme måned'
        {%- else -%}
        (concurrent_services >= {{ _number(definition['threshold'], 'threshold') }})
        {%- endif -%}
    {%- elif rule == 'complex_family' -%}
        {%- if text -%}
        'Husstande, hvor et barn har en indsats (' || coalesce(purposes_text, 'alle slags')
            || ') og en voksen er på offentlig forsørgelse; alle i husstanden tælles'
        {%- else -%}
        coalesce(household_tg_{{ definition['target_group'] }}, false)
        {%- endif -%}
    {%- elif rule == 'income_support_with_service' -%}
        {%- if text -%}
        'På offentlig forsørgelse og med en indsats'
            || coalesce(' (' || purposes_text || ')', '')
            || coalesce(' fra ' || departments_text, '')
        {%- else -%}
        (income_support_days > 0
        {%- if definition['min_age'] is not none %} and age_years >= {{ _number(definition['min_age'], 'min_age') }}{% endif %}
        {%- if definition['max_age'] is not none %} and age_years <= {{ _number(definition['max_age'], 'max_age') }}{% endif %}
        and (false
            {%- if definition['purposes'] %} or service_purposes && {{ _text_array(definition['purposes']) }}{% endif %}
            {%- if definition['service_departments'] %} or service_departments && {{ _text_array(definition['service_departments']) }}{% endif %}
        ))
        {%- endif -%}
    {%- elif rule == 'all_services' -%}
        {%- if text -%}
        'Modtager både ' || services_text || ' i samme måned'
        {%- else -%}
        (service_codes @> {{ _text_array(definition['services']) }})
        {%- endif -%}
    {%- elif rule == 'top_cost_pct' -%}
        {%- if text -%}
        'De ' || trim(to_char(threshold, 'FM990.##')) || ' % af borgerne med de største udgifter de seneste 12 måneder'
        {%- else -%}
        (is_resident and trailing_12m_cost > 0
         and cost_rank <= ceil(residents_in_month * {{ _number(definition['threshold'], 'threshold') }} / 100.0))
        {%- endif -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("unknown target-group rule '" ~ rule ~ "'"
            ~ (" for " ~ definition['target_group'] if definition is not none else "")) }}
    {%- endif -%}
{%- endmacro %}

{% macro target_group_condition(definition) -%}
    {{- target_group_rule(definition['rule'], 'condition', definition) -}}
{%- endmacro %}

{#- The Danish text of every version's rule: target_group_rule(part='text') for each rule kind
    the seed uses (an unknown kind stops the compilation there), then the age limits. -#}
{% macro target_group_rule_text() -%}
    {%- set kinds = [] -%}
    {%- for row in seed_rows('target_group_definitions', order_by='rule') -%}
        {%- if row['rule'] not in kinds -%}{%- do kinds.append(row['rule']) -%}{%- endif -%}
    {%- endfor -%}
    case rule
        {%- for kind in kinds %}
        when '{{ kind }}' then {{ target_group_rule(kind, 'text') }}
        {%- endfor %}
        else rule
    end
    || case
        when min_age is not null and max_age is not null then ', ' || min_age || '-' || max_age || ' år'
        when min_age is not null then ', mindst ' || min_age || ' år'
        when max_age is not null then ', højst ' || max_age || ' år'
        else ''
    end
{%- endmacro %}

{#- The household condition of a complex_family definition, over int_household_months' inputs. -#}
{% macro complex_family_condition(definition) -%}
    (bool_or(member_role = 'child' and service_purposes && {{ _text_array(definition['purposes']) }})
     and bool_or(member_role = 'parent' and income_support_days > 0))
{%- endmacro %}
