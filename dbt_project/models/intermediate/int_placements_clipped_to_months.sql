{#-
    Placements outside the home (DUBU services with a DST placement type), one row per
    placement and month it overlaps, with the placement type's label.
-#}
with

services as (

    select * from {{ ref('int_services_clipped_to_months') }}
    where placement_type is not null

),

placement_types as (

    select * from {{ ref('placement_types') }}

)

select
    services.service_record_id,
    services.person_key,
    services.placement_type,
    placement_types.placement_label,
    services.provider,
    services.start_date,
    services.end_date,
    services.effective_end_date,
    services.month,
    services.service_days
from services
left join placement_types
    on services.placement_type = placement_types.placement_type
