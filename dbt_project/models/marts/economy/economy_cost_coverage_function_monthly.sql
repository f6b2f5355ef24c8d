{#-
    The ledger per month, department and kontoplan function with the cost attributed to
    persons (direct + imputed), the unattributed remainder and the coverage, for dashboards
    (Økonomi). persons = persons with attributed cost on the function in the month, null
    when fewer than 5 (0 included). When 1-4 persons carry the attributed cost, every amount
    of the row is hidden (it would show those persons' cost) and is_suppressed is true;
    functions with no attributed persons (overheads) show their ledger.
-#}
{%- set small = "(persons_attributed between 1 and " ~ (var('min_cell_size', 5) | int - 1) ~ ")" %}

with

attribution as (

    select * from {{ ref('fct_cost_attribution_monthly') }}

)

select
    month,
    department,
    department_label,
    kontoplan_function,
    function_label,
    (case when not {{ small }} then ledger_amount end)::numeric(16, 2)      as ledger_amount,
    (case when not {{ small }} then direct_cost end)::numeric(16, 2)        as direct_cost,
    (case when not {{ small }} then imputed_cost end)::numeric(16, 2)       as imputed_cost,
    (case when not {{ small }} then unattributed_cost end)::numeric(16, 2)  as unattributed_cost,
    (case when not {{ small }} then coverage end)::numeric(10, 4)           as coverage,
    ({{ suppress_small('persons_attributed') }})::integer                   as persons,
    {{ small }}                                                            as is_suppressed
from attribution
