{#-
    Persons per target group and month for dashboards (Målgrupper), counted with the
    definition version in force (definition_version), small cells suppressed. Only target
    groups with persons in the month have a row.
-#}
with

counts as (

    select * from {{ ref('fct_target_groups_monthly') }}
    where persons > 0

)

select
    month,
    target_group,
    target_group_label,
    definition_version,
    ({{ suppress_small('persons') }})::integer  as persons,
    {{ is_small_cell('persons') }}              as is_suppressed
from counts
