{#-
    Cost attributed to persons per person, month, kontoplan function and department, on the
    basis the economy department chose (var cost_attribution_basis, macro
    cost_attribution_basis; default gross):
    - gross: direct_cost = operating postings with the person's CPR (dranst 1);
             imputed_cost = activity x unit price (int_imputed_cost_aggregated_to_person_months).
    - net:   direct_cost also adds the refunds posted with the CPR (dranst 2);
             imputed_cost also adds the refunds without CPR apportioned to the person
             (int_refunds_apportioned_to_person_months).
    The gross parts and the refunds are kept beside them. A row exists where the person has
    something that counts on the basis (a posting or an imputation, even if it nets to 0).
    Every consumer of person cost (cost attribution per function, the person-month cost,
    cost concentration, target groups by cost, programme cost) reads this model, so the
    basis is one choice for the whole warehouse.
    Incremental by month like its inputs (macros/incremental.sql).
-#}
{{ config(**incremental_by_month_config(drop_months_before_window=false)) }}

{%- set batch_start = incremental_batch_start(entities=cost_entities()) %}
{%- set basis = cost_attribution_basis() %}

with

direct as (

    select
        person_key, month, kontoplan_function, department,
        direct_cost      as direct_gross_cost,
        direct_refunds,
        0::numeric       as imputed_gross_cost,
        0::numeric       as apportioned_refunds
    from {{ ref('int_direct_cost_aggregated_to_person_months') }}
    where {{ in_batch('month', batch_start) }}
    {%- if basis == 'gross' %}
      and direct_cost is not null
    {%- endif %}

),

imputed as (

    select
        person_key, month, kontoplan_function, department,
        0::numeric, 0::numeric, imputed_cost, 0::numeric
    from {{ ref('int_imputed_cost_aggregated_to_person_months') }}
    where {{ in_batch('month', batch_start) }}

),

apportioned as (

    select
        person_key, month, kontoplan_function, department,
        0::numeric, 0::numeric, 0::numeric, apportioned_refunds
    from {{ ref('int_refunds_apportioned_to_person_months') }}
    where {{ in_batch('month', batch_start) }}
    {%- if basis == 'gross' %}
      and false
    {%- endif %}

),

summed as (

    select
        person_key,
        month,
        kontoplan_function,
        department,
        coalesce(sum(direct_gross_cost), 0)    as direct_gross_cost,
        coalesce(sum(direct_refunds), 0)       as direct_refunds,
        sum(imputed_gross_cost)                as imputed_gross_cost,
        sum(apportioned_refunds)               as apportioned_refunds
    from (
        select * from direct
        union all
        select * from imputed
        union all
        select * from apportioned
    ) as unioned
    group by 1, 2, 3, 4

)

select
    person_key,
    month,
    kontoplan_function,
    department,
    '{{ basis }}'::text                                   as attribution_basis,
    {%- if basis == 'net' %}
    (direct_gross_cost + direct_refunds)::numeric(16, 2)  as direct_cost,
    (imputed_gross_cost + apportioned_refunds)::numeric(16, 2)
                                                          as imputed_cost,
    {%- else %}
    direct_gross_cost::numeric(16, 2)                     as direct_cost,
    imputed_gross_cost::numeric(16, 2)                    as imputed_cost,
    {%- endif %}
    direct_gross_cost::numeric(16, 2)                     as direct_gross_cost,
    imputed_gross_cost::numeric(16, 2)                    as imputed_gross_cost,
    direct_refunds::numeric(16, 2)                        as direct_refunds,
    apportioned_refunds::numeric(16, 2)                   as apportioned_refunds
from summed
