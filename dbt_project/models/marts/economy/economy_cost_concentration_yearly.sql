{#-
    Cost concentration per calendar year for dashboards (Økonomi): the share of the
    residents' attributed cost (direct + imputed) used by the 1, 3, 5 and 10 % most
    expensive residents (fct_cost_concentration_yearly). A share is hidden when its group is
    fewer than 5 persons (it would show their cost); residents likewise.
-#}
{%- set percentiles = [1, 3, 5, 10] %}

with

concentration as (

    select * from {{ ref('fct_cost_concentration_yearly') }}

)

select
    year,
    is_complete_year,
    ({{ suppress_small('residents') }})::integer                              as residents,
    (case when not {{ is_small_cell('residents') }} then total_cost end)::numeric(18, 2)
                                                                             as total_cost
    {%- for p in percentiles %},
    ({{ suppress_small('top_' ~ p ~ '_pct_persons', value_expr='top_' ~ p ~ '_pct_share') }})::numeric(6, 4)
                                                                             as top_{{ p }}_pct_share
    {%- endfor %},
    -- The top 1 % is the smallest group, so the row is suppressed exactly when it is.
    {{ is_small_cell('least(residents, top_1_pct_persons)') }}               as is_suppressed
from concentration
