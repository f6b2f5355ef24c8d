{#-
    The target-group definitions, every version, for dashboards (Målgrupper): what each
    target group counts, in Danish, since when, and what changed between versions. Code
    lists only (seed target_group_definitions via dim_target_group): no person data, so
    nothing to suppress. The rule text is written from the rule kind and its parameters,
    so it follows the configuration and cannot drift from the SQL that counts
    (macro target_group_condition).
-#}
with

definitions as (

    select * from {{ ref('dim_target_group') }}

),

described as (

    select
        definitions.*,
        case rule
            when 'min_departments' then
                'Kontakt med mindst ' || threshold::integer || ' forvaltninger i samme måned'
            when 'min_concurrent_services' then
                'Mindst ' || threshold::integer || ' samtidige ydelser i samme måned'
            when 'complex_family' then
                'Husstande, hvor et barn har en indsats (' || coalesce(replace(purposes, '|', ', '), 'alle')
                || ') og en voksen er på offentlig forsørgelse; alle i husstanden tælles'
            when 'income_support_with_service' then
                'På offentlig forsørgelse og med en indsats'
                || coalesce(' inden for ' || replace(purposes, '|', ', '), '')
                || coalesce(' fra ' || replace(service_departments, '|', ', '), '')
            when 'all_services' then
                'Modtager alle disse ydelser i samme måned: ' || replace(services, '|', ', ')
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
    from definitions

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
