{#-
    The combination of the given columns is unique (the grain of a model). Returns every row
    of a duplicated combination.

    Written with a window, not `group by ... having count(*) > 1`: PostgreSQL plans that as a
    hash aggregate from its (far too low) estimate of distinct combinations, and on millions
    of person-months the hash table spills batch after batch (over 20 minutes at 360,000
    residents for one test); a window sorts, which degrades gracefully (6 s for the same rows).
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select *
from (
    select
        {{ combination_of_columns | join(', ') }},
        count(*) over (partition by {{ combination_of_columns | join(', ') }})  as n_rows
    from {{ model }}
) as counted
where n_rows > 1
{% endtest %}
