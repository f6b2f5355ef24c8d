{#-
    Kontoplan functions (`h.hf.ff`) the warehouse meets, with their names, main function and
    the department that owns the spending (int_kontoplan_functions_mapped_to_departments).
-#}
select
    kontoplan_function,
    function_label,
    main_function,
    main_function_label,
    department
from {{ ref('int_kontoplan_functions_mapped_to_departments') }}
