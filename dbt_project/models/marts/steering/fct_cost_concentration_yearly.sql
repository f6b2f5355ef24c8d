{#-
    Cost concentration per calendar year (domain brief section 1: the 1 % of residents who
    cost most use just under 1/3 of the spending): the residents of the year are the persons
    in the population extract who lived in the municipality on some day of it; a resident's
    cost is their direct + imputed cost of the year (0 if none); the top p % are the
    ceil(residents x p / 100) most expensive, and their share is their cost / all residents'
    cost. A year is complete when the ledger covers all of it (from the first month with
    postings to the as-of date); shares of an incomplete year cover its months so far.
    Not suppressed (BI role only); economy_cost_concentration_yearly is.
-#}
{{ config(pre_hook="{{ big_work_mem() }}") }}
{%- set percentiles = [1, 3, 5, 10] %}

with

persons as (

    select
        {{ person_id('person_key') }}                                           as person_id,
        coalesce(moved_in_date, birth_date)                                   as resident_from,
        least(coalesce(moved_out_date, 'infinity'::date), coalesce(death_date, 'infinity'::date))
                                                                              as resident_until
    from {{ ref('stg_cpr__persons') }}

),

person_costs as (

    select * from {{ ref('int_cost_aggregated_to_person_months') }}

),

ledger_window as (

    select min(month) as first_month
    from {{ ref('int_ledger_postings_spread_to_months') }}

),

as_of as (

    select max(as_of_date) as as_of_date from {{ ref('int_months') }}

),

years as (

    select distinct extract(year from month)::integer as year
    from person_costs

),

residents as (

    select
        years.year,
        persons.person_id
    from years
    inner join persons
        on  persons.resident_from <= make_date(years.year, 12, 31)
        and persons.resident_until >= make_date(years.year, 1, 1)

),

yearly_costs as (

    select
        extract(year from month)::integer  as year,
        person_id,
        sum(cost_total)                    as cost_total
    from person_costs
    group by 1, 2

),

ranked as (

    select
        residents.year,
        coalesce(yearly_costs.cost_total, 0)                                  as cost_total,
        row_number() over (
            partition by residents.year
            order by coalesce(yearly_costs.cost_total, 0) desc, residents.person_id
        )                                                                     as cost_rank,
        count(*) over (partition by residents.year)                           as residents
    from residents
    left join yearly_costs
        on  yearly_costs.year = residents.year
        and yearly_costs.person_id = residents.person_id

),

summed as (

    select
        year,
        max(residents)::integer                                               as residents,
        count(*) filter (where cost_total > 0)::integer                       as persons_with_cost,
        sum(cost_total)                                                       as total_cost
        {%- for p in percentiles %},
        sum(cost_total) filter (where cost_rank <= ceil(residents * {{ p }} / 100.0))
                                                                              as top_{{ p }}_pct_cost
        {%- endfor %}
    from ranked
    group by year

)

select
    summed.year,
    coalesce(
        make_date(summed.year, 1, 1) >= ledger_window.first_month
        and make_date(summed.year, 12, 31) <= as_of.as_of_date,
        false
    )                                                                         as is_complete_year,
    summed.residents,
    summed.persons_with_cost,
    summed.total_cost::numeric(18, 2)                                         as total_cost
    {%- for p in percentiles %},
    ceil(summed.residents * {{ p }} / 100.0)::integer                         as top_{{ p }}_pct_persons,
    coalesce(summed.top_{{ p }}_pct_cost, 0)::numeric(18, 2)                  as top_{{ p }}_pct_cost,
    case when summed.total_cost > 0 then
        round(summed.top_{{ p }}_pct_cost / summed.total_cost, 4)
    end::numeric(6, 4)                                                        as top_{{ p }}_pct_share
    {%- endfor %}
from summed
cross join ledger_window
cross join as_of
