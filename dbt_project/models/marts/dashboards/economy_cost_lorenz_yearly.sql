{#-
    The Lorenz curve of cost per year (dashboard Omkostninger og datadækning, domain brief
    section 1): the residents of the year (a resident month in fct_person_month) ordered by
    their cost of the year (direct + imputed, all departments; 0 without cost) from the least
    to the most expensive and cut into 100 equal groups (percentile 1 = the cheapest 1 %). Per
    percentile: its persons and cost, and the cumulative share of residents and of cost up to
    and including it. A straight diagonal means everybody costs the same; the further the
    curve sags, the more the cost is concentrated on few residents. Each percentile holds at
    least residents / 100 persons; with fewer than 5 persons in a percentile its cost and the
    cumulative cost share are hidden.
-#}
{{ config(pre_hook="{{ big_work_mem() }}") }}

with

person_months as (

    select * from {{ ref('fct_person_month') }}

),

years as (

    select extract(year from month)::integer as year, bool_and(is_complete) as is_complete_year
    from {{ ref('int_months') }}
    group by 1

),

person_years as (

    select
        extract(year from month)::integer                                      as year,
        person_key,
        sum(cost_total)                                                        as cost
    from person_months
    group by 1, 2
    having bool_or(is_resident)

),

ranked as (

    select
        year,
        cost,
        ntile(100) over (partition by year order by cost, person_key)          as percentile
    from person_years

),

percentiles as (

    select
        year,
        percentile,
        count(*)::integer                                                      as persons,
        sum(cost)                                                              as cost
    from ranked
    group by 1, 2

),

cumulative as (

    select
        percentiles.*,
        sum(persons) over (partition by year order by percentile)              as persons_to_here,
        sum(persons) over (partition by year)                                  as residents,
        sum(cost) over (partition by year order by percentile)                 as cost_to_here,
        sum(cost) over (partition by year)                                     as total_cost
    from percentiles

),

as_of as (

    select max(as_of_date) as data_as_of from {{ ref('int_months') }}

)

select
    cumulative.year,
    years.is_complete_year,
    cumulative.percentile,
    ({{ suppress_small('cumulative.persons') }})::integer                      as persons,
    ({{ suppress_small('cumulative.persons', value_expr='round(cumulative.cost, 2)') }})::numeric(16, 2)
                                                                               as cost,
    round(cumulative.persons_to_here::numeric / cumulative.residents, 4)::numeric(6, 4)
                                                                               as cumulative_residents_share,
    ({{ suppress_small('cumulative.persons',
        value_expr='round(cumulative.cost_to_here / nullif(cumulative.total_cost, 0), 4)') }})::numeric(6, 4)
                                                                               as cumulative_cost_share,
    {{ is_small_cell('cumulative.persons') }}                                  as is_suppressed,
    as_of.data_as_of
from cumulative
inner join years
    on cumulative.year = years.year
cross join as_of
