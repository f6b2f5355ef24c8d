{#-
    The service catalogue: every service the sources deliver (seed service_catalogue) and
    every benefit group (seed benefit_groups, paid by the jobcenter), with law paragraph and
    its OS2bos title, section and intervention steps, department, kontoplan function, unit
    and purpose, and the ledger accounts OS2bos books the paragraph's main activities on.
-#}
with

catalogue as (

    select
        service_code,
        service_label,
        source,
        department,
        paragraph_key,
        kontoplan_function,
        unit,
        purpose,
        is_placement,
        counts_as_service
    from {{ ref('service_catalogue') }}

    union all

    select
        benefit_groups.benefit_group,
        benefit_groups.benefit_group_label,
        'ydelser',
        coalesce(functions.department, 'oevrige'),
        null,
        benefit_groups.kontoplan_function,
        'day',
        'income_support',
        false,
        true
    from {{ ref('benefit_groups') }} as benefit_groups
    left join {{ ref('int_kontoplan_functions_mapped_to_departments') }} as functions
        on benefit_groups.kontoplan_function = functions.kontoplan_function

),

paragraphs as (

    select * from {{ ref('os2bos_paragraphs') }}

),

accounts as (

    select
        paragraph_key,
        string_agg(distinct account, ', ' order by account)  as os2bos_accounts
    from {{ ref('os2bos_activities') }}
    where activity_kind = 'main' and account is not null
    group by paragraph_key

),

purposes as (

    select * from {{ ref('service_purposes') }}

)

select
    catalogue.service_code,
    catalogue.service_label,
    catalogue.source,
    catalogue.department,
    catalogue.paragraph_key,
    paragraphs.paragraph_title,
    paragraphs.section                 as paragraph_section,
    paragraphs.intervention_steps,
    accounts.os2bos_accounts,
    catalogue.kontoplan_function,
    catalogue.unit,
    catalogue.purpose,
    purposes.purpose_label,
    catalogue.is_placement,
    catalogue.counts_as_service
from catalogue
left join paragraphs
    on catalogue.paragraph_key = paragraphs.paragraph_key
left join accounts
    on catalogue.paragraph_key = accounts.paragraph_key
left join purposes
    on catalogue.purpose = purposes.purpose
