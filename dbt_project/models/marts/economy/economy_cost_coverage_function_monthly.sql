{#-
    The ledger per month, department and kontoplan function with the cost attributed to
    persons (direct + imputed), the unattributed remainder and the coverage, for dashboards
    (Økonomi). persons = persons with attributed cost on the function in the month, null
    when fewer than 5 (0 included).

    Suppression (domain brief section 8), in two steps:
    - primary: when 1-4 persons carry the attributed cost of a function, every amount of
      the row is hidden (it would show those persons' cost);
    - complementary: the department's row in economy_cost_coverage_department_monthly is
      the sum of its function rows, so one hidden function could be recovered as the
      department total minus the visible functions. While the persons behind the hidden
      rows of a department and month are fewer than 5, the function with the fewest
      attributed persons among the visible ones (5 or more) is hidden too.
    Functions with no attributed persons (overheads) show their ledger. is_suppressed is
    true when the row's amounts are hidden, for either reason.
-#}
{%- set min_cell = var('min_cell_size', 5) | int %}

with

attribution as (

    select * from {{ ref('fct_cost_attribution_monthly') }}

),

primary_suppression as (

    select
        attribution.*,
        persons_attributed between 1 and {{ min_cell - 1 }}  as is_primary_suppressed
    from attribution

),

departments_to_protect as (

    -- Department-months whose hidden rows stand for fewer than min_cell_size persons.
    select month, department
    from primary_suppression
    group by month, department
    having sum(persons_attributed) filter (where is_primary_suppressed) between 1 and {{ min_cell - 1 }}

),

complementary as (

    -- In each of them the visible function with the fewest attributed persons.
    select distinct on (candidates.month, candidates.department)
        candidates.month,
        candidates.department,
        candidates.kontoplan_function
    from primary_suppression as candidates
    inner join departments_to_protect
        on  candidates.month = departments_to_protect.month
        and candidates.department = departments_to_protect.department
    where candidates.persons_attributed >= {{ min_cell }}
    order by candidates.month, candidates.department, candidates.persons_attributed, candidates.kontoplan_function

),

flagged as (

    select
        primary_suppression.*,
        primary_suppression.is_primary_suppressed
            or complementary.kontoplan_function is not null  as is_hidden
    from primary_suppression
    left join complementary
        on  primary_suppression.month = complementary.month
        and primary_suppression.department = complementary.department
        and primary_suppression.kontoplan_function = complementary.kontoplan_function

)

select
    month,
    department,
    department_label,
    kontoplan_function,
    function_label,
    (case when not is_hidden then ledger_amount end)::numeric(16, 2)      as ledger_amount,
    (case when not is_hidden then direct_cost end)::numeric(16, 2)        as direct_cost,
    (case when not is_hidden then imputed_cost end)::numeric(16, 2)       as imputed_cost,
    (case when not is_hidden then unattributed_cost end)::numeric(16, 2)  as unattributed_cost,
    (case when not is_hidden then coverage end)::numeric(10, 4)           as coverage,
    ({{ suppress_small('persons_attributed') }})::integer                 as persons,
    is_hidden                                                             as is_suppressed
from flagged
