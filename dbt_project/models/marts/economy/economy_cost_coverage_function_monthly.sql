{#-
    The ledger per month, department and kontoplan function, for dashboards (Økonomi): gross
    operating cost (dranst 1), state refunds (dranst 2), net operating cost and construction
    (dranst 3, never operating cost), and the operating ledger on the attribution basis
    (ledger_amount; var cost_attribution_basis) with the cost attributed to persons (direct +
    imputed), the unattributed remainder and the coverage. persons = distinct persons with a
    non-zero attributed amount on the function in the month (0 shown as 0).

    Suppression (domain brief section 8), on distinct persons, in two steps:
    - primary: when 1-4 persons carry the attributed cost of a function, every amount of
      the row is hidden (it would show those persons' cost);
    - complementary: the department's row in economy_cost_coverage_department_monthly is
      the sum of its function rows, so the hidden rows could be recovered together as the
      department total minus the visible functions. That difference stands for the distinct
      persons of the hidden rows (one person on two hidden functions is one person). When
      they are 1-4, the visible function with the fewest attributed persons (5 or more) is
      hidden too; its own 5 or more distinct persons make the hidden set at least 5.
    Functions with no attributed persons (overheads) show their ledger. is_suppressed is
    true when the row's amounts are hidden, for either reason. The month of the as-of date is
    flagged (is_complete_month false, days_covered).
-#}
{%- set min_cell = var('min_cell_size', 5) | int %}

with

attribution as (

    select * from {{ ref('fct_cost_attribution_monthly') }}

),

person_rows as (

    -- The persons behind each function row (the same rule as persons_attributed).
    select month, department, kontoplan_function, person_key
    from {{ ref('int_attributed_cost_by_person_function_monthly') }}
    where direct_cost <> 0 or imputed_cost <> 0

),

as_of as (

    select max(as_of_date) as as_of_date from {{ ref('int_months') }}

),

primary_suppression as (

    select
        attribution.*,
        {{ is_small_cell('persons_attributed', min_cell) }}  as is_primary_suppressed
    from attribution

),

hidden_persons as (

    -- Distinct persons behind the primarily hidden rows of each department and month.
    select
        person_rows.month,
        person_rows.department,
        count(distinct person_rows.person_key)  as persons
    from person_rows
    inner join primary_suppression
        on  person_rows.month = primary_suppression.month
        and person_rows.department = primary_suppression.department
        and person_rows.kontoplan_function = primary_suppression.kontoplan_function
    where primary_suppression.is_primary_suppressed
    group by person_rows.month, person_rows.department

),

departments_to_protect as (

    select month, department
    from hidden_persons
    where {{ is_small_cell('persons', min_cell) }}

),

complementary as (

    -- In each of them the visible function with the fewest attributed persons (5 or more).
    select distinct on (candidates.month, candidates.department)
        candidates.month,
        candidates.department,
        candidates.kontoplan_function
    from primary_suppression as candidates
    inner join departments_to_protect
        on  candidates.month = departments_to_protect.month
        and candidates.department = departments_to_protect.department
    where candidates.persons_attributed >= {{ min_cell }}
    order by candidates.month, candidates.department, candidates.persons_attributed, candidates.kontoplan_function

),

flagged as (

    select
        primary_suppression.*,
        primary_suppression.is_primary_suppressed
            or complementary.kontoplan_function is not null  as is_hidden
    from primary_suppression
    left join complementary
        on  primary_suppression.month = complementary.month
        and primary_suppression.department = complementary.department
        and primary_suppression.kontoplan_function = complementary.kontoplan_function

)

select
    flagged.month,
    flagged.department,
    flagged.department_label,
    flagged.kontoplan_function,
    flagged.function_label,
    (case when not flagged.is_hidden then flagged.ledger_amount end)::numeric(16, 2)         as ledger_amount,
    (case when not flagged.is_hidden then flagged.direct_cost end)::numeric(16, 2)           as direct_cost,
    (case when not flagged.is_hidden then flagged.imputed_cost end)::numeric(16, 2)          as imputed_cost,
    (case when not flagged.is_hidden then flagged.unattributed_cost end)::numeric(16, 2)     as unattributed_cost,
    (case when not flagged.is_hidden then flagged.coverage end)::numeric(10, 4)              as coverage,
    ({{ suppress_small('flagged.persons_attributed', min_cell) }})::integer                 as persons,
    flagged.is_hidden                                                                        as is_suppressed,
    (case when not flagged.is_hidden then flagged.gross_operating_cost end)::numeric(16, 2)  as gross_operating_cost,
    (case when not flagged.is_hidden then flagged.refunds end)::numeric(16, 2)               as refunds,
    (case when not flagged.is_hidden then flagged.net_operating_cost end)::numeric(16, 2)    as net_operating_cost,
    (case when not flagged.is_hidden then flagged.construction_cost end)::numeric(16, 2)     as construction_cost,
    flagged.attribution_basis,
    {{ is_complete_month('flagged.month', 'as_of.as_of_date') }}                             as is_complete_month,
    {{ days_covered('flagged.month', 'as_of.as_of_date') }}                                  as days_covered
from flagged
cross join as_of
