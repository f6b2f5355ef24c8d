{#-
    A 64-bit integer for a pseudonymous person key, for the big person-month models: joins,
    sorts and window partitions on a bigint are several times faster than on the 64-character
    hex key, and rows are narrower. hashtextextended is PostgreSQL's stable 64-bit text hash
    (the one hash partitioning relies on), so the same key gets the same id in every run and
    incremental state stays valid. int_person_keys maps ids back to keys and tests that no two
    keys share an id (a collision among a million keys has a probability of about 1e-7).
-#}
{% macro person_id(person_key_expr) -%}
    hashtextextended({{ person_key_expr }}, 0)
{%- endmacro %}
