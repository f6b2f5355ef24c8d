{#- The departments (forvaltninger), from the departments seed. -#}
select
    department,
    department_label,
    sort_order,
    is_service_department,
    is_cost_department
from {{ ref('departments') }}
