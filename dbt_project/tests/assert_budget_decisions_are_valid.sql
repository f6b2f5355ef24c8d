{{ config(severity='warn') }}
{#-
    Warns with every rejected leg of the decision register in force, so a rejected decision
    shows in the nightly build's log (and on the dashboard Økonomi og budgetopfølgning) and is
    never left out of the corrected budget silently.
-#}
select decision_id, leg_number, rule, rejection_reason
from {{ ref('int_budget_decisions_validated') }}
where not is_valid
