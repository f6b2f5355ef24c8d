{#-
    Every kontoplan function the warehouse meets (code lists, service and benefit catalogues,
    unit prices, DUBU and health records, ledger accounts), with its main function and the
    department that owns it: by the main function (seed kontoplan_main_functions), or
    `oevrige` when no department owns the main function.
-#}
with

functions as (

    select kontoplan_function from {{ ref('kontoplan_functions') }}
    union
    select kontoplan_function from {{ ref('service_catalogue') }}
    union
    select kontoplan_function from {{ ref('benefit_groups') }}
    union
    select kontoplan_function from {{ ref('stg_enhedspriser__unit_prices') }}
    union
    select kontoplan_function from {{ ref('stg_dubu__services') }}
    union
    select kontoplan_function from {{ ref('stg_sundhed__services') }}
    union
    select distinct {{ kontoplan_function_of_account('account') }} from {{ ref('stg_oekonomi__postings') }}

),

labels as (

    select * from {{ ref('kontoplan_functions') }}

),

main_functions as (

    select * from {{ ref('kontoplan_main_functions') }}

)

select
    functions.kontoplan_function,
    labels.function_label,
    substr(functions.kontoplan_function, 1, 4)          as main_function,
    main_functions.main_function_label,
    coalesce(main_functions.department, 'oevrige')      as department
from functions
left join labels
    on functions.kontoplan_function = labels.kontoplan_function
left join main_functions
    on substr(functions.kontoplan_function, 1, 4) = main_functions.main_function
where functions.kontoplan_function is not null
