{#-
    The decision register in force, checked decision by decision. Every delivery is the whole
    register (staging keeps them all); the newest loaded file (by delivery date, then name) is
    the register in force, so a leg or decision removed from it is gone. A decision is one or
    more legs (rows) with the same decision id; a leg moves `amount` from one department
    (`from_department`) or to one (`to_department`) on one kontoplan function. The loader has
    already quarantined rows with an unknown department, function or programme, a malformed
    review id, amount or date (landing.quarantine names the file, line and rule). Here every
    decision gets the first rule it breaks, in this order, and is applied to the corrected
    budget only when it breaks none:

    1. file_has_quarantined_rows: the register file had rows quarantined at load, so a decision
       may be missing a leg; all its decisions are held back until a corrected file arrives.
    2. a rule of one of its legs (that leg gets its own rule, the others `other_leg_rejected`):
       one_department_per_leg (exactly one of from and to is filled), duplicate_leg (the same
       decision, function and department twice), non_positive_amount, unknown_review (not a
       review of the calendar seed budget_review_calendar in a budget year with a delivered
       budget), function_not_in_department (the function belongs to another department; the
       separate unit var('separate_unit_department') may hold any function).
    3. inconsistent_decision: its legs name different reviews, programmes or decision dates.
    4. unbalanced_decision: the amounts moved from departments do not equal those moved to.

    rejection_reason (Danish, for the dashboard) names the file, the decision, the leg (its
    kontoplan function and department) and the rule.
-#}
{%- set unit = var('separate_unit_department', 'helhed') %}

with

files as (

    select delivery_date, file_name, rows_quarantined
    from {{ source('audit', 'delivery_files') }}
    where entity = 'beslutninger.budget_decisions' and status = 'loaded'

),

register_file as (

    select * from files
    order by delivery_date desc, file_name desc
    limit 1

),

decisions as (

    select staged.*, register_file.rows_quarantined                       as file_rows_quarantined
    from {{ ref('stg_beslutninger__budget_decisions') }} as staged
    inner join register_file
        on staged.source_file = register_file.file_name

),

reviews as (

    select review_id, review_date from {{ ref('int_budget_reviews') }}

),

main_functions as (

    select * from {{ ref('kontoplan_main_functions') }}

),

legs as (

    select
        decisions.*,
        coalesce(decisions.from_department, decisions.to_department)           as department,
        case
            when decisions.from_department is not null and decisions.to_department is null then -decisions.amount
            when decisions.to_department is not null and decisions.from_department is null then decisions.amount
        end                                                                    as signed_amount,
        coalesce(main_functions.department, 'oevrige')                         as function_department,
        reviews.review_date,
        count(*) over (
            partition by decisions.decision_id, decisions.kontoplan_function,
                decisions.from_department, decisions.to_department
        )                                                                      as repeats,
        row_number() over (
            partition by decisions.decision_id
            order by decisions.kontoplan_function, decisions.from_department, decisions.to_department, decisions.amount
        )                                                                      as leg_number
    from decisions
    left join main_functions
        on substr(decisions.kontoplan_function, 1, 4) = main_functions.main_function
    left join reviews
        on decisions.review_id = reviews.review_id

),

leg_rules as (

    select
        legs.*,
        case
            when (from_department is null) = (to_department is null) then 'one_department_per_leg'
            when repeats > 1 then 'duplicate_leg'
            when amount <= 0 then 'non_positive_amount'
            when review_date is null then 'unknown_review'
            when department <> function_department and department <> '{{ unit }}' then 'function_not_in_department'
        end                                                                    as leg_rule
    from legs

),

decision_checks as (

    select
        decision_id,
        bool_or(file_rows_quarantined > 0)                                    as has_quarantined_file,
        (array_agg(kontoplan_function || ' (' || coalesce(department, 'uden forvaltning') || ')' order by leg_number)
            filter (where leg_rule is not null))[1]                           as first_rejected_leg,
        (array_agg(leg_rule order by leg_number)
            filter (where leg_rule is not null))[1]                           as first_leg_rule,
        count(distinct review_id) > 1
            or count(distinct programme_code) > 1
            or count(distinct decided_on) > 1                                 as is_inconsistent,
        coalesce(sum(amount) filter (where from_department is not null), 0)   as amount_from,
        coalesce(sum(amount) filter (where to_department is not null), 0)     as amount_to
    from leg_rules
    group by decision_id

),

ruled as (

    select
        leg_rules.*,
        decision_checks.amount_from,
        decision_checks.amount_to,
        decision_checks.first_rejected_leg,
        decision_checks.first_leg_rule,
        case
            when decision_checks.has_quarantined_file then 'file_has_quarantined_rows'
            when leg_rules.leg_rule is not null then leg_rules.leg_rule
            when decision_checks.first_leg_rule is not null then 'other_leg_rejected'
            when decision_checks.is_inconsistent then 'inconsistent_decision'
            when decision_checks.amount_from <> decision_checks.amount_to then 'unbalanced_decision'
        end                                                                    as rule
    from leg_rules
    inner join decision_checks
        on leg_rules.decision_id = decision_checks.decision_id

)

select
    decision_id,
    leg_number::integer                                                       as leg_number,
    review_id,
    programme_code,
    from_department,
    to_department,
    department,
    kontoplan_function,
    function_department,
    amount,
    signed_amount,
    decided_on,
    note,
    delivery_date,
    source_file,
    review_date,
    rule is null                                                              as is_valid,
    rule,
    case when rule is not null then
        source_file || ', beslutning ' || decision_id || ', række med funktion ' || kontoplan_function
        || ' (' || coalesce(department, 'uden forvaltning') || '): ' || rule || ': '
        || case rule
            when 'file_has_quarantined_rows' then
                'filen har ' || file_rows_quarantined || ' række(r) i karantæne fra indlæsningen (landing.quarantine),'
                || ' så beslutningen kan mangle en række; alle beslutninger i filen holdes tilbage, til en rettet fil er leveret'
            when 'one_department_per_leg' then
                'en række skal have enten Fra forvaltning eller Til forvaltning udfyldt, ikke begge og ikke ingen'
            when 'non_positive_amount' then
                'Beløb skal være positivt (retningen angives med Fra/Til forvaltning), men er ' || amount::text
            when 'unknown_review' then
                'budgetopfølgningen ' || review_id || ' findes ikke i budgetkalenderen (seed budget_review_calendar)'
                || ' for et budgetår med budget'
            when 'function_not_in_department' then
                'funktion ' || kontoplan_function || ' hører til forvaltningen ' || function_department
                || ', ikke ' || department
            when 'duplicate_leg' then
                'samme beslutning, funktion og forvaltning står i flere rækker'
            when 'other_leg_rejected' then
                'beslutningen er afvist, fordi rækken med funktion ' || first_rejected_leg
                || ' er afvist (' || first_leg_rule || ')'
            when 'inconsistent_decision' then
                'beslutningens rækker angiver forskellige budgetopfølgninger, programmer eller beslutningsdatoer'
            when 'unbalanced_decision' then
                'beløb fra forvaltninger i alt ' || amount_from::text || ' kr. svarer ikke til beløb til forvaltninger i alt '
                || amount_to::text || ' kr.'
        end
    end                                                                       as rejection_reason
from ruled
