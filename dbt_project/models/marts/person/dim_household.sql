{#-
    Households with children (int_household_members): one row per household, with its
    district (the anchor parent's), when it had members, and how many distinct members,
    parents and children it has had.
-#}
with

members as (

    select * from {{ ref('int_household_members') }}

),

persons as (

    select * from {{ ref('stg_cpr__persons') }}

)

select
    members.household_key,
    max(persons.district) filter (where members.is_anchor)         as district,
    min(members.valid_from)                                        as first_date,
    max(members.valid_to)                                          as last_date,
    count(distinct members.person_key)::integer                    as members_ever,
    count(distinct members.person_key) filter (where members.member_role = 'parent')::integer
                                                                   as parents_ever,
    count(distinct members.person_key) filter (where members.member_role = 'child')::integer
                                                                   as children_ever
from members
left join persons
    on members.person_key = persons.person_key
group by members.household_key
