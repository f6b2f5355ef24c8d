{#-
    The ledger per month, department and kontoplan function by cost kind (gross operating
    cost, state refunds, net operating cost, construction), and the operating ledger on the
    attribution basis (var cost_attribution_basis) split into direct, imputed and
    unattributed cost (ledger_amount = direct_cost + imputed_cost + unattributed_cost), with
    coverage = (direct + imputed) / ledger and the distinct persons the attributed cost
    belongs to. Not suppressed (BI role only); the public economy marts are.
-#}
with

attribution as (

    select * from {{ ref('int_cost_attribution_by_function_monthly') }}

),

functions as (

    select * from {{ ref('dim_kontoplan_function') }}

),

departments as (

    select * from {{ ref('dim_department') }}

)

select
    attribution.month,
    attribution.department,
    departments.department_label,
    attribution.kontoplan_function,
    functions.function_label,
    attribution.attribution_basis,
    attribution.gross_operating_cost,
    attribution.refunds,
    attribution.net_operating_cost,
    attribution.construction_cost,
    attribution.ledger_amount,
    attribution.direct_cost,
    attribution.imputed_cost,
    attribution.unattributed_cost,
    case when attribution.ledger_amount <> 0 then
        round((attribution.direct_cost + attribution.imputed_cost) / attribution.ledger_amount, 4)
    end::numeric(10, 4)                                   as coverage,
    attribution.persons_attributed
from attribution
left join functions
    on attribution.kontoplan_function = functions.kontoplan_function
left join departments
    on attribution.department = departments.department
