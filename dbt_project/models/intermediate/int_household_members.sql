{#-
    Households with children, from CPR's parent-child links and the district of the address:
    one row per household and member, with the period of membership. CPR delivers no
    address below the district, so a household is built around a child's mother (the
    child lives at the mother's address), or the father when the mother is not in the
    extract (the *anchor*). Members are
    - the children under var('household_child_max_age', 17) + 1 years of the anchor, while
      they live in the municipality and are that young;
    - the anchor, from the first child's membership to the last child's, while resident;
    - the other parent, likewise, when they live in the anchor's district.
    household_key is a hash of the anchor's pseudonym (itself pseudonymous). A parent with
    children from two households is a member of both.
-#}
{%- set child_max_age = var('household_child_max_age', 17) | int -%}

with

persons as (

    select
        person_key,
        birth_date,
        district,
        coalesce(moved_in_date, birth_date)                                  as resident_from,
        least(coalesce(moved_out_date, 'infinity'::date), coalesce(death_date, 'infinity'::date))
                                                                             as resident_until
    from {{ ref('stg_cpr__persons') }}

),

relations as (

    select * from {{ ref('stg_cpr__relations') }}

),

parents as (

    select
        relations.child_person_key,
        max(relations.parent_person_key) filter (where relations.relation = 'mor')  as mother_key,
        max(relations.parent_person_key) filter (where relations.relation = 'far')  as father_key
    from relations
    inner join persons
        on relations.parent_person_key = persons.person_key
    group by relations.child_person_key

),

children as (

    select
        parents.child_person_key,
        coalesce(parents.mother_key, parents.father_key)                     as anchor_key,
        case when parents.mother_key is not null then parents.father_key end as other_parent_key,
        greatest(child.birth_date, child.resident_from)                      as valid_from,
        least(
            (child.birth_date + make_interval(years => {{ child_max_age + 1 }}) - interval '1 day')::date,
            child.resident_until
        )                                                                    as valid_to
    from parents
    inner join persons as child
        on parents.child_person_key = child.person_key

),

child_members as (

    select
        md5('household|' || anchor_key)  as household_key,
        anchor_key,
        other_parent_key,
        child_person_key                 as person_key,
        valid_from,
        valid_to
    from children
    where valid_from <= valid_to

),

household_spans as (

    select
        household_key,
        anchor_key,
        min(valid_from)  as valid_from,
        max(valid_to)    as valid_to
    from child_members
    group by household_key, anchor_key

),

other_parents as (

    select distinct household_key, other_parent_key
    from child_members
    where other_parent_key is not null

),

parent_members as (

    select
        household_spans.household_key,
        household_spans.anchor_key                                           as person_key,
        'parent'::text                                                       as member_role,
        true                                                                 as is_anchor,
        greatest(household_spans.valid_from, anchor.resident_from)           as valid_from,
        least(household_spans.valid_to, anchor.resident_until)               as valid_to
    from household_spans
    inner join persons as anchor
        on household_spans.anchor_key = anchor.person_key

    union all

    select
        household_spans.household_key,
        other_parents.other_parent_key,
        'parent',
        false,
        greatest(household_spans.valid_from, other_parent.resident_from),
        least(household_spans.valid_to, other_parent.resident_until)
    from other_parents
    inner join household_spans
        on other_parents.household_key = household_spans.household_key
    inner join persons as other_parent
        on other_parents.other_parent_key = other_parent.person_key
    inner join persons as anchor
        on household_spans.anchor_key = anchor.person_key
    where other_parent.district is not distinct from anchor.district

),

members as (

    select household_key, person_key, 'child'::text as member_role, false as is_anchor, valid_from, valid_to
    from child_members

    union all

    select household_key, person_key, member_role, is_anchor, valid_from, valid_to
    from parent_members

)

select *
from members
where valid_from <= valid_to
