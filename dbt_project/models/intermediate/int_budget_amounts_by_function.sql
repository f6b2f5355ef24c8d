{#-
    The delivered budgets per budget year, department and kontoplan function: the adopted
    budget (Oprindeligt budget) and the finance system's corrected budget (Korrigeret budget)
    summed over the function's accounts and cost centres. An account without a corrected row
    keeps its adopted budget. The function is read from the account string like the ledger's,
    and its department is its main function's (seed kontoplan_main_functions), else `oevrige`:
    the same rule as int_kontoplan_functions_mapped_to_departments.
-#}
with

budgets as (

    select * from {{ ref('stg_oekonomi__budgets') }}

),

main_functions as (

    select * from {{ ref('kontoplan_main_functions') }}

),

per_account as (

    select
        budget_year,
        account,
        cost_centre,
        sum(amount) filter (where budget_type = 'Oprindeligt budget')  as adopted,
        sum(amount) filter (where budget_type = 'Korrigeret budget')   as corrected
    from budgets
    group by 1, 2, 3

),

with_function as (

    select
        per_account.*,
        {{ kontoplan_function_of_account('per_account.account') }}     as kontoplan_function
    from per_account

)

select
    with_function.budget_year,
    coalesce(main_functions.department, 'oevrige')                     as department,
    with_function.kontoplan_function,
    sum(coalesce(with_function.adopted, 0))::numeric(16, 2)            as adopted_budget,
    sum(coalesce(with_function.corrected, with_function.adopted, 0))::numeric(16, 2)
                                                                       as ledger_corrected_budget,
    count(*)::integer                                                  as accounts
from with_function
left join main_functions
    on substr(with_function.kontoplan_function, 1, 4) = main_functions.main_function
group by 1, 2, 3
