{#-
    Target-group definitions with every version (seed target_group_definitions);
    is_current marks the version in force, the one every count is computed with.
-#}
with

definitions as (

    select * from {{ ref('target_group_definitions') }}

)

select
    target_group,
    version,
    adopted_on,
    target_group_label,
    rule,
    threshold,
    min_age,
    max_age,
    purposes,
    service_departments,
    services,
    change_note,
    version = max(version) over (partition by target_group)  as is_current
from definitions
