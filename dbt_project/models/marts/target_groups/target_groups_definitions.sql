{#-
    The target-group definitions, every version, for dashboards (Målgrupper): what each
    target group counts, in Danish, since when, and what changed between versions. Code
    lists only (seed target_group_definitions via dim_target_group): no person data, so
    nothing to suppress. The rule text is written from the rule kind and its parameters,
    so it follows the configuration and cannot drift from the SQL that counts
    (macro target_group_condition); codes are shown by their Danish labels from the seeds
    service_purposes, departments and service_catalogue.
-#}
with

definitions as (

    select * from {{ ref('dim_target_group') }}

),

purposes as (

    select * from {{ ref('service_purposes') }}

),

departments as (

    select * from {{ ref('departments') }}

),

catalogue as (

    select * from {{ ref('service_catalogue') }}

),

labelled as (

    -- The `|`-separated codes of a rule as Danish labels (the code itself when no label).
    select
        definitions.*,
        (
            select string_agg(lower(coalesce(purposes.purpose_label, code)), ', ' order by ordinality)
            from unnest(string_to_array(definitions.purposes, '|')) with ordinality as codes (code, ordinality)
            left join purposes on purposes.purpose = codes.code
        )                                                     as purposes_text,
        (
            select string_agg(coalesce(departments.department_label, code), ', ' order by ordinality)
            from unnest(string_to_array(definitions.service_departments, '|')) with ordinality as codes (code, ordinality)
            left join departments on departments.department = codes.code
        )                                                     as departments_text,
        (
            select string_agg(lower(coalesce(catalogue.service_label, code)), ' og ' order by ordinality)
            from unnest(string_to_array(definitions.services, '|')) with ordinality as codes (code, ordinality)
            left join catalogue on catalogue.service_code = codes.code
        )                                                     as services_text
    from definitions

),

described as (

    select
        labelled.*,
        case rule
            when 'min_departments' then
                'Kontakt med mindst ' || threshold::integer || ' forvaltninger i samme måned'
            when 'min_concurrent_services' then
                'Mindst ' || threshold::integer || ' samtidige ydelser i samme måned'
            when 'complex_family' then
                'Husstande, hvor et barn har en indsats (' || coalesce(purposes_text, 'alle slags')
                || ') og en voksen er på offentlig forsørgelse; alle i husstanden tælles'
            when 'income_support_with_service' then
                'På offentlig forsørgelse og med en indsats'
                || coalesce(' (' || purposes_text || ')', '')
                || coalesce(' fra ' || departments_text, '')
            when 'all_services' then
                'Modtager både ' || services_text || ' i samme måned'
            when 'top_cost_pct' then
                'De ' || trim(to_char(threshold, 'FM990.##')) || ' % af borgerne med de største udgifter de seneste 12 måneder'
            else rule
        end
        || case
            when min_age is not null and max_age is not null then ', ' || min_age || '-' || max_age || ' år'
            when min_age is not null then ', mindst ' || min_age || ' år'
            when max_age is not null then ', højst ' || max_age || ' år'
            else ''
        end                                                   as rule_description
    from labelled

)

select
    target_group,
    version,
    adopted_on,
    target_group_label,
    rule,
    rule_description,
    threshold,
    min_age,
    max_age,
    purposes,
    service_departments,
    services,
    change_note,
    is_current
from described
