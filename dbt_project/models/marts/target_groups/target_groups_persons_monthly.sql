{#-
    Persons per target group and month for dashboards (Målgrupper), counted with the
    definition version in force (definition_version), small cells suppressed. Every month
    has a row for every target group, 0 included (the zero rule of macros/suppress_small.sql:
    a null count is always a suppressed cell of 1-4 persons). The month of the as-of date is
    counted over the days up to it (is_complete_month false, days_covered).
-#}
with

counts as (

    select * from {{ ref('fct_target_groups_monthly') }}

),

months as (

    select * from {{ ref('int_months') }}

)

select
    counts.month,
    counts.target_group,
    counts.target_group_label,
    counts.definition_version,
    ({{ suppress_small('counts.persons') }})::integer  as persons,
    {{ is_small_cell('counts.persons') }}              as is_suppressed,
    months.is_complete                                 as is_complete_month,
    months.days_covered
from counts
inner join months
    on counts.month = months.month
