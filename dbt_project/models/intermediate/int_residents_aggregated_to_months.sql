{#-
    Residents on the first day of each month by age in whole years (int_residents_monthly
    counted): the denominators of the self-support mart and of the cost target groups.
-#}
select
    month,
    age_years,
    count(*)::integer  as residents
from {{ ref('int_residents_monthly') }}
group by month, age_years
