{#-
    Ledger amounts spread over the months of the period each posting covers
    (`period_from`..`period_to`, both inclusive), in proportion to the days of the period
    in each month, and summed per month, kontoplan function, dranst, cost centre, PSP element
    and recipient. The account string gives the function (digits 1-5) and the dranst (digit
    6), whose cost kind comes from the seed kontoplan_dranst: operating (1), refund (2),
    construction (3), or `other` for a dranst the seed does not list. Amounts are signed:
    debit (D) adds, credit (K, e.g. a reversal or a refund received) subtracts.
    The split is exact: a month gets round(amount x days up to its end / days, 2) minus
    round(amount x days before it / days, 2), so the parts add up to the posting to the øre.
    A posting without a period is placed on its delivery date.
    Incremental by month (macros/incremental.sql): a run recomputes the months from the batch
    start, from every posting that covers them, and keeps the months before it.
-#}
{{ config(**incremental_by_month_config(drop_months_before_window=false)) }}

{%- set batch_start = incremental_batch_start(entities=ledger_entities()) %}
with

postings as (

    select * from {{ ref('stg_oekonomi__postings') }}

),

functions as (

    select * from {{ ref('int_kontoplan_functions_mapped_to_departments') }}

),

dranst as (

    select * from {{ ref('kontoplan_dranst') }}

),

bounded as (

    select
        account,
        {{ kontoplan_function_of_account('account') }}                        as kontoplan_function,
        {{ kontoplan_dranst_of_account('account') }}                          as dranst,
        cost_centre,
        wbs_element,
        recipient_person_key,
        case when debit_credit = 'K' then -amount else amount end            as signed_amount,
        coalesce(period_from, period_to, delivery_date)                       as period_start,
        greatest(
            coalesce(period_to, period_from, delivery_date),
            coalesce(period_from, period_to, delivery_date)
        )                                                                     as period_end
    from postings

),

in_batch as (

    select * from bounded
    where {{ in_batch('period_end', batch_start) }}

),

spread as (

    select
        bounded.*,
        calendar.month::date                                                  as month,
        (bounded.period_end - bounded.period_start + 1)                       as period_days,
        (greatest(bounded.period_start, calendar.month::date) - bounded.period_start)
                                                                              as days_before_month,
        (least(bounded.period_end, (calendar.month + interval '1 month - 1 day')::date)
            - bounded.period_start + 1)                                       as days_through_month
    from in_batch as bounded
    cross join lateral generate_series(
        date_trunc('month', {% if batch_start is none %}bounded.period_start{% else %}greatest(bounded.period_start, date '{{ batch_start }}'){% endif %}),
        date_trunc('month', bounded.period_end),
        interval '1 month'
    ) as calendar(month)

)

select
    spread.month,
    spread.kontoplan_function,
    coalesce(functions.department, 'oevrige')                                 as department,
    spread.dranst,
    coalesce(dranst.cost_kind, 'other')                                       as cost_kind,
    spread.cost_centre,
    spread.wbs_element,
    spread.recipient_person_key,
    count(*)::integer                                                         as postings,
    sum(
        round(spread.signed_amount * spread.days_through_month / spread.period_days, 2)
        - round(spread.signed_amount * spread.days_before_month / spread.period_days, 2)
    )::numeric(16, 2)                                                         as amount
from spread
left join functions
    on spread.kontoplan_function = functions.kontoplan_function
left join dranst
    on spread.dranst = dranst.dranst
group by 1, 2, 3, 4, 5, 6, 7, 8
