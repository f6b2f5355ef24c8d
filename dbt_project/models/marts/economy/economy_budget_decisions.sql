{#-
    The decision register in force for the dashboard: every leg of every decision with its
    status (applied to the corrected budget, or rejected with the reason naming the file,
    decision, leg and rule). The register holds budget decisions, not persons: nothing is
    suppressed. The note is shown as delivered; like every free-text field it relies on the
    loader masking CPR-like text before staging (helhed.redaction).
-#}
with

legs as (

    select * from {{ ref('int_budget_decisions_validated') }}

),

reviews as (

    select review_id, review_label from {{ ref('int_budget_reviews') }}

),

months as (

    select max(as_of_date) as as_of_date from {{ ref('int_months') }}

)

select
    legs.decision_id,
    legs.leg_number,
    legs.review_id,
    reviews.review_label,
    legs.programme_code,
    programmes.service_label                                                    as programme_label,
    case
        when legs.from_department is not null and legs.to_department is null then 'fra'
        when legs.to_department is not null and legs.from_department is null then 'til'
    end                                                                         as direction,
    legs.department,
    departments.department_label,
    legs.kontoplan_function,
    functions.function_label,
    legs.amount::numeric(16, 2)                                                 as amount,
    legs.signed_amount::numeric(16, 2)                                          as budget_change,
    legs.decided_on,
    legs.note,
    legs.is_valid,
    case when legs.is_valid then 'Indregnet i korrigeret budget' else 'Afvist' end  as status,
    legs.rule,
    legs.rejection_reason,
    legs.source_file,
    legs.delivery_date,
    months.as_of_date                                                           as data_as_of
from legs
cross join months
left join reviews
    on legs.review_id = reviews.review_id
left join {{ ref('dim_department') }} as departments
    on legs.department = departments.department
left join {{ ref('kontoplan_functions') }} as functions
    on legs.kontoplan_function = functions.kontoplan_function
left join {{ ref('service_catalogue') }} as programmes
    on  programmes.service_code = legs.programme_code
    and programmes.source = 'helhed'
