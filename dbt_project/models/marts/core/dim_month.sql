{#- One row per reported calendar month (int_months), with year, quarter and Danish labels. -#}
select
    month,
    month_end,
    extract(year from month)::integer                               as year,
    extract(quarter from month)::integer                            as quarter,
    extract(month from month)::integer                              as month_of_year,
    to_char(month, 'YYYY-MM')                                       as month_key,
    extract(year from month)::integer || 'K' || extract(quarter from month)::integer
                                                                    as quarter_label,
    days_in_month,
    days_covered,
    is_complete,
    as_of_date
from {{ ref('int_months') }}
