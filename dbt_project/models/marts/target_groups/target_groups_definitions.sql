{#-
    The target-group definitions, every version, for dashboards (Målgrupper): what each
    target group counts, in Danish, since when, and what changed between versions. Code
    lists only (seed target_group_definitions via dim_target_group): no person data, so
    nothing to suppress. The rule text comes from the same switch over the rule kinds as the
    SQL that counts (macro target_group_rule in macros/target_groups.sql), so it follows the
    configuration and cannot drift from the count; codes are shown by their Danish labels from
    the seeds service_purposes, departments and service_catalogue.
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
        {{ target_group_rule_text() }}                        as rule_description
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
