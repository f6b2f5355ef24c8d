{#-
    The ledger per month and department, for dashboards (Økonomi): gross operating cost
    (dranst 1), state refunds (dranst 2), net operating cost and construction (dranst 3,
    never operating cost), and the operating ledger on the attribution basis (ledger_amount;
    var cost_attribution_basis) with the cost attributed to persons (direct and imputed), the
    unattributed remainder and the coverage ((direct + imputed) / ledger; the published norm
    is 80-90 %). Every amount is the sum of the department's rows in
    economy_cost_coverage_function_monthly. persons = distinct persons with a non-zero
    attributed amount in the department in the month (a person on two functions counts
    once; 0 shown as 0); when they are 1-4, every amount of the row is hidden and
    is_suppressed is true. The month of the as-of date is flagged (is_complete_month false).
-#}
{%- set min_cell = var('min_cell_size', 5) | int %}

with

attribution as (

    select * from {{ ref('fct_cost_attribution_monthly') }}

),

person_rows as (

    select month, department, person_key
    from {{ ref('int_attributed_cost_by_person_function_monthly') }}
    where direct_cost <> 0 or imputed_cost <> 0

),

departments as (

    select * from {{ ref('dim_department') }}

),

as_of as (

    select max(as_of_date) as as_of_date from {{ ref('int_months') }}

),

persons as (

    select month, department, count(distinct person_key) as persons
    from person_rows
    group by month, department

),

aggregated as (

    select
        attribution.month,
        attribution.department,
        max(attribution.attribution_basis)       as attribution_basis,
        sum(attribution.gross_operating_cost)    as gross_operating_cost,
        sum(attribution.refunds)                 as refunds,
        sum(attribution.net_operating_cost)      as net_operating_cost,
        sum(attribution.construction_cost)       as construction_cost,
        sum(attribution.ledger_amount)           as ledger_amount,
        sum(attribution.direct_cost)             as direct_cost,
        sum(attribution.imputed_cost)            as imputed_cost,
        sum(attribution.unattributed_cost)       as unattributed_cost
    from attribution
    group by attribution.month, attribution.department

),

joined as (

    select
        aggregated.*,
        coalesce(persons.persons, 0)  as persons,
        case when aggregated.ledger_amount <> 0 then
            round((aggregated.direct_cost + aggregated.imputed_cost) / aggregated.ledger_amount, 4)
        end                           as coverage,
        {{ is_small_cell('coalesce(persons.persons, 0)', min_cell) }}  as is_hidden
    from aggregated
    left join persons
        on  aggregated.month = persons.month
        and aggregated.department = persons.department

)

select
    joined.month,
    joined.department,
    departments.department_label,
    (case when not joined.is_hidden then joined.ledger_amount end)::numeric(16, 2)         as ledger_amount,
    (case when not joined.is_hidden then joined.direct_cost end)::numeric(16, 2)           as direct_cost,
    (case when not joined.is_hidden then joined.imputed_cost end)::numeric(16, 2)          as imputed_cost,
    (case when not joined.is_hidden then joined.unattributed_cost end)::numeric(16, 2)     as unattributed_cost,
    (case when not joined.is_hidden then joined.coverage end)::numeric(10, 4)              as coverage,
    ({{ suppress_small('joined.persons', min_cell) }})::integer                           as persons,
    joined.is_hidden                                                                       as is_suppressed,
    (case when not joined.is_hidden then joined.gross_operating_cost end)::numeric(16, 2)  as gross_operating_cost,
    (case when not joined.is_hidden then joined.refunds end)::numeric(16, 2)               as refunds,
    (case when not joined.is_hidden then joined.net_operating_cost end)::numeric(16, 2)    as net_operating_cost,
    (case when not joined.is_hidden then joined.construction_cost end)::numeric(16, 2)     as construction_cost,
    joined.attribution_basis,
    {{ is_complete_month('joined.month', 'as_of.as_of_date') }}                            as is_complete_month,
    {{ days_covered('joined.month', 'as_of.as_of_date') }}                                 as days_covered
from joined
cross join as_of
left join departments
    on joined.department = departments.department
