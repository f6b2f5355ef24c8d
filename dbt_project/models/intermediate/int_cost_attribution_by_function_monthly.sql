{#-
    The ledger of each department, kontoplan function and month split into what is
    attributed to persons and what is not: ledger_amount = direct_cost + imputed_cost +
    unattributed_cost by construction. Direct cost is on the posting's function, imputed
    cost on the unit price's function; the unattributed remainder is what the ledger holds
    beyond them (overheads, administration, own operations not covered by unit prices,
    rounding) and is negative where more is imputed than booked. persons_attributed counts
    the persons with direct or imputed cost on the function in the month.
-#}
with

ledger as (

    select
        month,
        department,
        kontoplan_function,
        sum(amount)                                                     as ledger_amount
    from {{ ref('int_ledger_postings_spread_to_months') }}
    group by 1, 2, 3

),

direct as (

    select * from {{ ref('int_direct_cost_aggregated_to_person_months') }}

),

imputed as (

    select * from {{ ref('int_imputed_cost_aggregated_to_person_months') }}

),

attributed_rows as (

    select person_key, month, department, kontoplan_function, direct_cost, 0::numeric as imputed_cost from direct
    union all
    select person_key, month, department, kontoplan_function, 0, imputed_cost from imputed

),

attributed_persons as (

    -- One row per function, month and person first: counting distinct persons is then a
    -- plain count.
    select
        month,
        department,
        kontoplan_function,
        person_key,
        sum(direct_cost)                 as direct_cost,
        sum(imputed_cost)                as imputed_cost
    from attributed_rows
    group by 1, 2, 3, 4

),

attributed as (

    select
        month,
        department,
        kontoplan_function,
        sum(direct_cost)                 as direct_cost,
        sum(imputed_cost)                as imputed_cost,
        count(*)                         as persons_attributed
    from attributed_persons
    group by 1, 2, 3

),

joined as (

    select
        coalesce(ledger.month, attributed.month)                            as month,
        coalesce(ledger.department, attributed.department)                  as department,
        coalesce(ledger.kontoplan_function, attributed.kontoplan_function)  as kontoplan_function,
        coalesce(ledger.ledger_amount, 0)                                   as ledger_amount,
        coalesce(attributed.direct_cost, 0)                                 as direct_cost,
        coalesce(attributed.imputed_cost, 0)                                as imputed_cost,
        coalesce(attributed.persons_attributed, 0)                          as persons_attributed
    from ledger
    full outer join attributed
        on  ledger.month = attributed.month
        and ledger.department = attributed.department
        and ledger.kontoplan_function = attributed.kontoplan_function

)

select
    month,
    department,
    kontoplan_function,
    ledger_amount::numeric(16, 2)                                 as ledger_amount,
    direct_cost::numeric(16, 2)                                   as direct_cost,
    imputed_cost::numeric(16, 2)                                  as imputed_cost,
    (ledger_amount - direct_cost - imputed_cost)::numeric(16, 2)  as unattributed_cost,
    persons_attributed::integer                                   as persons_attributed
from joined
