{#-
    Unit prices per service and year with the department of the price's kontoplan function
    (the department that carries the imputed cost), the unit as `day`, `hour` or `conversation`
    (the jobcenter's price per conversation held), and whether
    the service is posted per person in the ledger (registrantbogført: then its cost is
    direct and never imputed).
-#}
with

unit_prices as (

    select * from {{ ref('stg_enhedspriser__unit_prices') }}

),

functions as (

    select * from {{ ref('int_kontoplan_functions_mapped_to_departments') }}

)

select
    unit_prices.price_year,
    unit_prices.service_code,
    unit_prices.service_label,
    unit_prices.paragraph_key,
    unit_prices.kontoplan_function,
    coalesce(functions.department, 'oevrige')                as department,
    case unit_prices.price_unit
        when 'kr. pr. dag' then 'day'
        when 'kr. pr. time' then 'hour'
        when 'kr. pr. samtale' then 'conversation'
    end                                                      as price_unit,
    unit_prices.unit_price,
    coalesce(unit_prices.registrant_posted = 'Ja', false)    as is_registrant_posted
from unit_prices
left join functions
    on unit_prices.kontoplan_function = functions.kontoplan_function
