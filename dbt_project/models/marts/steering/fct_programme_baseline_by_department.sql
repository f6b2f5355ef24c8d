{#-
    A programme's citizens at each budget review, per cost department: their economic
    baseline against their actual cost, and the two budget rules of the separate-unit model
    (domain brief section 7, KL 2017 section 6.2-6.3). Not suppressed (BI role only).

    The citizens of a programme at a review are the persons with an enrolment in it that was
    running at some time between 1 January of the budget year and the review date.

    - baseline_monthly (per enrolment and department) = the person's cost in the department
      (direct + imputed, int_person_months) in the var('programme_baseline_months') months
      before the start month, averaged over those of them the warehouse covers;
    - baseline_to_date = sum of baseline_monthly x months enrolled from 1 January to the review
      month; actual_to_date = the same enrolments' cost in the department in those months;
    - unit_budget_baseline (separate unit, baseline rule): sum of baseline_monthly x the months
      of the year each enrolment is in the unit: enrolled months up to the review month, plus the
      months to its end (or to December when open) after it; at the annual accounts, the
      enrolled months of the year;
    - unit_budget_citizens (separate unit, citizens rule): the department's adopted budget of
      the year x moved_person_months / department_person_months: of all person-months with cost
      in the department from 1 January to the review month, the share that are the programme's
      citizens' months while enrolled (the citizens moved, weighted by how long they are in the
      unit); moved_citizens counts those citizens.
-#}
{%- set cost_departments = seed_values('departments', 'department', where='is_cost_department') -%}
{%- set baseline_months = var('programme_baseline_months', 12) | int %}

with

reviews as (

    select * from {{ ref('int_budget_reviews') }}
    where is_reported

),

months as (

    select month from {{ ref('int_months') }}

),

enrolments as (

    select
        enrolment_id,
        person_key,
        programme_code,
        start_date,
        date_trunc('month', start_date)::date                                  as start_month,
        end_date,
        date_trunc('month', end_date)::date                                    as end_month
    from {{ ref('fct_programme_enrolments') }}

),

person_months as (

    select * from {{ ref('int_person_months') }}
    where enrolment_id is not null

),

departments as (

    select department from {{ ref('departments') }} where is_cost_department

),

in_review as (

    -- Enrolments running between 1 January and the review date, with their months in the year.
    select
        reviews.review_id,
        reviews.budget_year,
        reviews.review_month,
        enrolments.*,
        greatest(enrolments.start_month, make_date(reviews.budget_year, 1, 1))    as first_year_month,
        least(coalesce(enrolments.end_month, reviews.review_month), reviews.review_month)
                                                                                  as last_month_to_date,
        least(coalesce(enrolments.end_month, make_date(reviews.budget_year, 12, 1)),
              make_date(reviews.budget_year, 12, 1))                              as last_month_in_year
    from reviews
    inner join enrolments
        on  enrolments.start_date <= reviews.review_date
        and (enrolments.end_date is null or enrolments.end_date >= make_date(reviews.budget_year, 1, 1))

),

enrolment_months as (

    select
        in_review.*,
        {{ months_from_to('first_year_month', 'last_month_to_date') }}             as months_to_date,
        {{ months_from_to('first_year_month', 'last_month_in_year') }}             as months_in_year
    from in_review

),

baseline_cost as (

    -- Per enrolment: cost per department in its baseline months.
    select
        enrolment_id
        {%- for department in cost_departments %},
        sum(cost_total_{{ department }})                                          as cost_{{ department }}
        {%- endfor %}
    from person_months
    where months_since_enrolment between -{{ baseline_months }} and -1
    group by enrolment_id

),

baseline_coverage as (

    -- Baseline months the warehouse covers (the start of its history cuts early cohorts short).
    select
        enrolments.enrolment_id,
        count(months.month)::integer                                              as baseline_months_covered
    from enrolments
    left join months
        on  months.month >= (enrolments.start_month - interval '{{ baseline_months }} months')::date
        and months.month < enrolments.start_month
    group by enrolments.enrolment_id

),

actual_cost as (

    -- Per review and enrolment: cost per department while enrolled, 1 January to the review month.
    select
        enrolment_months.review_id,
        enrolment_months.enrolment_id
        {%- for department in cost_departments %},
        sum(person_months.cost_total_{{ department }})                            as cost_{{ department }},
        count(*) filter (where person_months.cost_total_{{ department }} > 0)     as months_{{ department }}
        {%- endfor %}
    from enrolment_months
    inner join person_months
        on  person_months.enrolment_id = enrolment_months.enrolment_id
        and person_months.is_enrolled
        and person_months.month between enrolment_months.first_year_month and enrolment_months.last_month_to_date
    group by 1, 2

),

per_enrolment as (

    select
        enrolment_months.review_id,
        enrolment_months.programme_code,
        enrolment_months.person_key,
        enrolment_months.enrolment_id,
        enrolment_months.months_to_date,
        enrolment_months.months_in_year,
        departments.department,
        case
            when baseline_coverage.baseline_months_covered > 0 then
                coalesce(case departments.department
                    {%- for department in cost_departments %}
                    when '{{ department }}' then baseline_cost.cost_{{ department }}
                    {%- endfor %}
                end, 0) / baseline_coverage.baseline_months_covered
        end                                                                       as baseline_monthly,
        coalesce(case departments.department
            {%- for department in cost_departments %}
            when '{{ department }}' then actual_cost.cost_{{ department }}
            {%- endfor %}
        end, 0)                                                                   as actual_to_date,
        coalesce(case departments.department
            {%- for department in cost_departments %}
            when '{{ department }}' then actual_cost.months_{{ department }}
            {%- endfor %}
        end, 0)                                                                   as months_with_cost
    from enrolment_months
    cross join departments
    left join baseline_cost
        on enrolment_months.enrolment_id = baseline_cost.enrolment_id
    left join baseline_coverage
        on enrolment_months.enrolment_id = baseline_coverage.enrolment_id
    left join actual_cost
        on  enrolment_months.review_id = actual_cost.review_id
        and enrolment_months.enrolment_id = actual_cost.enrolment_id

),

cohort as (

    select
        review_id,
        programme_code,
        department,
        count(distinct person_key)::integer                                       as participants,
        count(distinct person_key) filter (where baseline_monthly is null)::integer
                                                                                  as participants_without_baseline,
        count(distinct person_key) filter (where baseline_monthly <> 0)::integer  as persons_with_baseline_cost,
        count(distinct person_key) filter (where actual_to_date <> 0)::integer    as persons_with_actual_cost,
        sum(coalesce(baseline_monthly, 0) * months_to_date)                       as baseline_to_date,
        sum(actual_to_date)                                                       as actual_to_date,
        sum(coalesce(baseline_monthly, 0) * months_in_year)                       as unit_budget_baseline,
        sum(months_with_cost)                                                     as moved_person_months,
        count(distinct person_key) filter (where months_with_cost > 0)::integer  as moved_citizens
    from per_enrolment
    group by 1, 2, 3

),

department_months as (

    -- Person-months with cost in each cost department, all persons, per month.
    select
        month
        {%- for department in cost_departments %},
        count(*) filter (where cost_total_{{ department }} > 0)                  as months_{{ department }}
        {%- endfor %}
    from {{ ref('int_person_months') }}
    group by month

),

citizens as (

    select
        reviews.review_id,
        departments.department,
        sum(case departments.department
            {%- for department in cost_departments %}
            when '{{ department }}' then department_months.months_{{ department }}
            {%- endfor %}
        end)::bigint                                                              as department_person_months
    from reviews
    inner join department_months
        on  department_months.month >= make_date(reviews.budget_year, 1, 1)
        and department_months.month <= reviews.review_month
    cross join departments
    group by 1, 2

),

budgets as (

    select budget_year, department, sum(adopted_budget)                           as adopted_budget
    from {{ ref('int_budget_amounts_by_function') }}
    group by 1, 2

)

select
    cohort.programme_code,
    cohort.review_id,
    reviews.budget_year,
    reviews.review_date,
    cohort.department,
    cohort.participants,
    cohort.participants_without_baseline,
    cohort.persons_with_baseline_cost,
    cohort.persons_with_actual_cost,
    round(cohort.baseline_to_date, 2)::numeric(16, 2)                            as baseline_to_date,
    round(cohort.actual_to_date, 2)::numeric(16, 2)                              as actual_to_date,
    round(cohort.unit_budget_baseline, 2)::numeric(16, 2)                        as unit_budget_baseline,
    cohort.moved_citizens,
    cohort.moved_person_months::bigint                                           as moved_person_months,
    coalesce(citizens.department_person_months, 0)::bigint                       as department_person_months,
    coalesce(budgets.adopted_budget, 0)::numeric(16, 2)                          as department_adopted_budget,
    (case when coalesce(citizens.department_person_months, 0) > 0 then
        round(coalesce(budgets.adopted_budget, 0) * cohort.moved_person_months / citizens.department_person_months, 2)
    else 0 end)::numeric(16, 2)                                                  as unit_budget_citizens,
    reviews.as_of_date                                                           as data_as_of
from cohort
inner join reviews
    on cohort.review_id = reviews.review_id
left join citizens
    on  citizens.review_id = cohort.review_id
    and citizens.department = cohort.department
left join budgets
    on  budgets.budget_year = reviews.budget_year
    and budgets.department = cohort.department
