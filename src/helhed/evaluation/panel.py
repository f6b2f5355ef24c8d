"""The evaluation panel: one value per person, month and measure, read from tonight's build.

The study population is every person who could be a participant or a comparison person: all
programme participants and every resident aged 18-64 with a day of an eligible benefit group
in some month. For them the panel holds, per complete calendar month of the warehouse, what
``build_restricted.fct_person_month`` says (income support, departments, services, cost,
placements) and what it does not say for months without a row (a person-month exists only
with a benefit, a service, cost or a cohort window): no row means no benefit, no service and
no cost, while work and education on the 1st come from the staging tables by the same rule
as the fact (an ``Ordinær`` spell / an ``I uddannelse`` status covering the 1st).

The panel also lists the pairs of study persons with a child in common (co-parents): a
family is enrolled once, so the comparison pool leaves out a person whose co-parent is
already in a programme (``matching.units_for``).

Two adjustments make the outcomes those of an evaluation (docs/economics.md):
- the programme's own imputed cost (enrolment days x its unit price) is taken out of the
  person's cost, and the programme out of the concurrent services: it is the investment,
  not an outcome;
- cost is the family's: the person's plus their children's (CPR links) while under 18,
  because a family programme saves on the children (placements).

The SQL aggregates in PostgreSQL (set-based); the rows come over with COPY into pandas and
are laid out as dense numpy arrays ``[person, month]``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

BUILD_RESTRICTED, BUILD_STG, BUILD_INT = "build_restricted", "build_stg", "build_int"
SERVICE_DEPARTMENTS = ("beskaeftigelse", "boern_familie", "voksen_social", "sundhed")


def copy_frame(conn: psycopg.Connection, query: sql.Composable, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """Run a query through COPY ... TO STDOUT (CSV) and parse it with pandas (fast for millions of rows)."""
    buffer = io.BytesIO()
    statement = sql.SQL("copy ({}) to stdout with (format csv, header true)").format(query)
    with conn.cursor() as cur:
        with cur.copy(statement, params) as copy:
            for block in copy:
                buffer.write(block)
    buffer.seek(0)
    return pd.read_csv(buffer, keep_default_na=True, true_values=["t"], false_values=["f"])


@dataclass
class Panel:
    """Dense ``[person, month]`` arrays of the study population."""

    persons: np.ndarray  # person_key per row, sorted
    months: np.ndarray  # datetime64[D] first days, ascending
    as_of_date: np.datetime64
    cost_departments: tuple[str, ...]
    male: np.ndarray
    birth: np.ndarray  # datetime64[D]
    resident: np.ndarray
    age: np.ndarray
    support: np.ndarray  # income support in the month
    eligible: np.ndarray  # a day of an eligible benefit group in the month
    group: np.ndarray  # index into benefit_groups of the primary group, -1 none
    benefit_groups: tuple[str, ...]
    active: dict[str, np.ndarray]
    departments: np.ndarray
    services: np.ndarray
    cost: dict[str, np.ndarray]  # per cost department, family cost without the programme's own
    employment: np.ndarray
    education: np.ndarray
    child_placed: np.ndarray
    child_measure: np.ndarray
    minor_child: np.ndarray
    enrolments: pd.DataFrame  # enrolment_id, person index, programme_code, start index
    #: Pairs (person, co-parent) of persons with a child in common (CPR links), both directions.
    co_parents: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.persons), len(self.months)

    def outcome(self, name: str) -> np.ndarray:
        """One outcome ``[person, month]`` as float (helhed.evaluation.OUTCOMES)."""
        if name == "self_supporting":
            return (~self.support).astype(np.float64)
        if name in ("ordinary_employment", "education", "child_placed"):
            return getattr(self, "employment" if name == "ordinary_employment" else name).astype(np.float64)
        if name in ("departments", "services"):
            return getattr(self, name).astype(np.float64)
        if name == "cost_total":
            return sum(self.cost[d] for d in self.cost_departments).astype(np.float64)  # type: ignore[union-attr]  # sum() over the departments' arrays is an array
        if name.startswith("cost_"):
            return self.cost[name.removeprefix("cost_")].astype(np.float64)
        raise KeyError(name)


def _month_index(values: pd.Series, months: np.ndarray) -> np.ndarray:
    return np.searchsorted(months, pd.to_datetime(values).to_numpy().astype("datetime64[D]"))


def _spell_flags(frame: pd.DataFrame, index: dict[str, int], months: np.ndarray) -> np.ndarray:
    """Boolean ``[person, month]``: a spell (start_date, end_date) covers the month's 1st."""
    out = np.zeros((len(index), len(months)), dtype=bool)
    if frame.empty:
        return out
    p = frame["person_key"].map(index).to_numpy()
    a = pd.to_datetime(frame["start_date"]).to_numpy().astype("datetime64[D]")
    b = pd.to_datetime(frame["end_date"]).to_numpy().astype("datetime64[D]")
    b = np.where(np.isnat(b), np.datetime64("9999-12-31"), b)
    lo = np.searchsorted(months, a, side="left")  # first month whose 1st is on or after the start
    hi = np.searchsorted(months, b, side="right")  # months whose 1st is on or before the end
    ok = lo < hi
    diff = np.zeros((len(index), len(months) + 1), dtype=np.int32)
    np.add.at(diff, (p[ok], lo[ok]), 1)
    np.add.at(diff, (p[ok], hi[ok]), -1)
    return np.cumsum(diff[:, :-1], axis=1) > 0


def load_panel(conn: psycopg.Connection, eligible_groups: tuple[str, ...]) -> Panel:
    """Read the study population's panel from the build schemas (see the module docstring)."""
    r, stg, itm = (sql.Identifier(s) for s in (BUILD_RESTRICTED, BUILD_STG, BUILD_INT))
    # Complete months only: the month of the as-of date holds its first days (docs/warehouse.md,
    # partial months), and three days of cost or benefits are not a month's outcome. A cohort's
    # follow-up ends with the last complete month; the current month counts once it is complete.
    months_frame = copy_frame(conn, sql.SQL("select month, as_of_date from {}.dim_month where is_complete order by month").format(r))
    months = pd.to_datetime(months_frame["month"]).to_numpy().astype("datetime64[D]")
    as_of = np.datetime64(pd.to_datetime(months_frame["as_of_date"]).max().date(), "D")
    cost_departments = tuple(
        copy_frame(conn, sql.SQL("select department from {}.dim_department where is_cost_department order by sort_order").format(r))["department"]
    )
    benefit_groups = tuple(copy_frame(conn, sql.SQL("select benefit_group from build_seeds.benefit_groups order by benefit_group"))["benefit_group"])
    eligible_sum = sql.SQL(" + ").join(sql.SQL("ftp_{}").format(sql.SQL(g)) for g in eligible_groups)
    conn.execute(sql.SQL(
        "create temporary table evaluation_study on commit drop as "
        "select person_key from {r}.fct_person_month where is_resident and age_years between 18 and 64 and ({s}) > 0 "
        "union select person_key from {r}.fct_programme_enrolments"
    ).format(r=r, s=eligible_sum))
    conn.execute("create index on evaluation_study (person_key)")
    conn.execute("analyze evaluation_study")
    people = copy_frame(conn, sql.SQL(
        "select p.person_key, p.birth_date, p.sex, coalesce(p.moved_in_date, p.birth_date) as resident_from, "
        "least(coalesce(p.moved_out_date, 'infinity'::date), coalesce(p.death_date, 'infinity'::date)) as resident_until "
        "from evaluation_study s join {stg}.stg_cpr__persons p using (person_key) order by p.person_key"
    ).format(stg=stg))
    people = people.drop_duplicates("person_key")
    persons = people["person_key"].to_numpy(dtype=object)
    index = {k: i for i, k in enumerate(persons)}
    n, t = len(persons), len(months)
    birth = pd.to_datetime(people["birth_date"]).to_numpy().astype("datetime64[D]")
    r_from = pd.to_datetime(people["resident_from"]).to_numpy().astype("datetime64[D]")
    r_until = pd.to_datetime(people["resident_until"].replace("infinity", "9999-12-31")).to_numpy().astype("datetime64[D]")
    resident = (r_from[:, None] <= months[None, :]) & (r_until[:, None] >= months[None, :])
    by, bm, bd = (birth.astype("datetime64[Y]").astype(int) + 1970,
                  birth.astype("datetime64[M]").astype(int) % 12 + 1,
                  (birth - birth.astype("datetime64[M]").astype("datetime64[D]")).astype(int) + 1)
    my = months.astype("datetime64[Y]").astype(int) + 1970
    mm = months.astype("datetime64[M]").astype(int) % 12 + 1
    before_birthday = (mm[None, :] < bm[:, None]) | ((mm[None, :] == bm[:, None]) & (1 < bd[:, None]))
    age = (my[None, :] - by[:, None] - before_birthday).astype(np.int16)

    dept_cols = sql.SQL(", ").join(sql.SQL("f.cost_total_{}").format(sql.SQL(d)) for d in cost_departments)
    active_cols = sql.SQL(", ").join(sql.SQL("f.is_active_{}").format(sql.SQL(d)) for d in SERVICE_DEPARTMENTS)
    facts = copy_frame(conn, sql.SQL(
        "select f.person_key, f.month, f.income_support_days > 0 as support, ({s}) > 0 as eligible, "
        "f.primary_benefit_group, f.departments_active, f.concurrent_services - f.is_enrolled::int as services, "
        "{active}, {cost} from {r}.fct_person_month f join evaluation_study s using (person_key)"
    ).format(s=sql.SQL(" + ").join(sql.SQL("f.ftp_{}").format(sql.SQL(g)) for g in eligible_groups), active=active_cols, cost=dept_cols, r=r))
    fp = facts["person_key"].map(index).to_numpy()
    fm = _month_index(facts["month"], months)
    ok = (fm < t) & ~pd.isna(fp)
    fp, fm, facts = fp[ok].astype(np.int64), fm[ok], facts[ok]

    def dense(values: Any, dtype: Any) -> np.ndarray:
        out = np.zeros((n, t), dtype=dtype)
        out[fp, fm] = np.asarray(values, dtype=dtype)
        return out

    support = dense(facts["support"].astype(bool), bool)
    eligible = dense(facts["eligible"].astype(bool), bool)
    group_codes = {g: i for i, g in enumerate(benefit_groups)}
    group = np.full((n, t), -1, dtype=np.int8)
    group[fp, fm] = facts["primary_benefit_group"].map(group_codes).fillna(-1).to_numpy(dtype=np.int8)
    active = {d: dense(facts[f"is_active_{d}"].astype(bool), bool) for d in SERVICE_DEPARTMENTS}
    departments = dense(facts["departments_active"], np.int16)
    services = dense(facts["services"], np.int16)
    cost = {d: dense(facts[f"cost_total_{d}"].fillna(0), np.float64) for d in cost_departments}

    # The programme's own imputed cost (the imputation rule of int_imputed_cost_aggregated_to_person_months).
    programme_cost = copy_frame(conn, sql.SQL(
        "select e.person_key, e.month, p.department, sum(round(e.enrolment_days * p.unit_price, 2)) as amount "
        "from {i}.int_programme_enrolments_clipped_to_months e "
        "join {i}.int_unit_prices_mapped_to_departments p on p.service_code = e.programme_code "
        " and p.price_year = extract(year from e.month) and not p.is_registrant_posted and p.price_unit = 'day' "
        "group by 1, 2, 3"
    ).format(i=itm))
    _subtract(cost, programme_cost, index, months)

    # Children (CPR links): cost while under 18, placements and children's measures.
    children = copy_frame(conn, sql.SQL(
        "select rel.parent_person_key as person_key, f.month, bool_or(f.is_placed_outside_home) as placed, "
        "bool_or(f.is_active_boern_familie) as measure, {cost} "
        "from (select distinct child_person_key, parent_person_key from {stg}.stg_cpr__relations) rel "
        "join evaluation_study s on s.person_key = rel.parent_person_key "
        "join {r}.fct_person_month f on f.person_key = rel.child_person_key "
        "group by 1, 2"
    ).format(cost=sql.SQL(", ").join(
        sql.SQL("sum(case when f.age_years < 18 then f.cost_total_{d} else 0 end) as cost_total_{d}").format(d=sql.SQL(d))
        for d in cost_departments), stg=stg, r=r))
    cp = children["person_key"].map(index).to_numpy().astype(np.int64)
    cm = _month_index(children["month"], months)
    okc = cm < t
    child_placed = np.zeros((n, t), dtype=bool)
    child_measure = np.zeros((n, t), dtype=bool)
    child_placed[cp[okc], cm[okc]] = children["placed"].astype(bool).to_numpy()[okc]
    child_measure[cp[okc], cm[okc]] = children["measure"].astype(bool).to_numpy()[okc]
    for d in cost_departments:
        np.add.at(cost[d], (cp[okc], cm[okc]), children[f"cost_total_{d}"].to_numpy(dtype=np.float64)[okc])

    kids = copy_frame(conn, sql.SQL(
        "select distinct rel.parent_person_key as person_key, c.birth_date, coalesce(c.moved_in_date, c.birth_date) as resident_from, "
        "least(coalesce(c.moved_out_date, 'infinity'::date), coalesce(c.death_date, 'infinity'::date)) as resident_until "
        "from {stg}.stg_cpr__relations rel join evaluation_study s on s.person_key = rel.parent_person_key "
        "join {stg}.stg_cpr__persons c on c.person_key = rel.child_person_key"
    ).format(stg=stg))
    minor_child = np.zeros((n, t), dtype=bool)
    if not kids.empty:
        kp = kids["person_key"].map(index).to_numpy().astype(np.int64)
        kb = pd.to_datetime(kids["birth_date"]).to_numpy().astype("datetime64[D]")
        k18 = (kb.astype("datetime64[M]") + np.timedelta64(18 * 12, "M")).astype("datetime64[D]") + (kb - kb.astype("datetime64[M]").astype("datetime64[D]"))
        kf = np.maximum(pd.to_datetime(kids["resident_from"]).to_numpy().astype("datetime64[D]"), kb)
        ku = np.minimum(pd.to_datetime(kids["resident_until"].replace("infinity", "9999-12-31")).to_numpy().astype("datetime64[D]"), k18 - 1)
        frame = pd.DataFrame({"person_key": persons[kp], "start_date": kf, "end_date": ku})
        minor_child = _spell_flags(frame[kf <= ku], index, months)

    employment = _spell_flags(copy_frame(conn, sql.SQL(
        "select e.person_key, e.start_date, e.end_date from {stg}.stg_eindkomst__employments e "
        "join evaluation_study s using (person_key) where e.employment_type = 'Ordinær'"
    ).format(stg=stg)), index, months)
    education = _spell_flags(copy_frame(conn, sql.SQL(
        "select e.person_key, e.start_date, e.end_date from {stg}.stg_uddannelse__education_status e "
        "join evaluation_study s using (person_key) where e.education_status = 'I uddannelse'"
    ).format(stg=stg)), index, months)

    # The other parent of a child in common: a family is enrolled once, so a person whose
    # co-parent is in a programme is not an untreated comparison person (matching.units_for).
    pairs = copy_frame(conn, sql.SQL(
        "select distinct a.parent_person_key as person_key, b.parent_person_key as co_parent_key "
        "from {stg}.stg_cpr__relations a join {stg}.stg_cpr__relations b "
        " on b.child_person_key = a.child_person_key and b.parent_person_key <> a.parent_person_key "
        "join evaluation_study s on s.person_key = a.parent_person_key "
        "join evaluation_study t on t.person_key = b.parent_person_key"
    ).format(stg=stg))
    co_parents = np.column_stack([pairs["person_key"].map(index).to_numpy(dtype=np.int64),
                                  pairs["co_parent_key"].map(index).to_numpy(dtype=np.int64)]) if len(pairs) else np.zeros((0, 2), dtype=np.int64)

    enrol = copy_frame(conn, sql.SQL(
        "select enrolment_id, person_key, programme_code, start_month from {r}.fct_programme_enrolments order by enrolment_id"
    ).format(r=r))
    enrol["person"] = enrol["person_key"].map(index)
    enrol["start"] = _month_index(enrol["start_month"], months)
    enrol = enrol[enrol["person"].notna() & (enrol["start"] < t)].copy()
    enrol["person"] = enrol["person"].astype(np.int64)
    male = (people["sex"].astype(str).str.upper().str[0] == "M").to_numpy()
    return Panel(
        persons, months, as_of, cost_departments, male, birth, resident, age, support, eligible, group, benefit_groups,
        active, departments, services, cost, employment, education, child_placed, child_measure, minor_child,
        enrol.drop(columns=["person_key"]).reset_index(drop=True), co_parents,
    )  # fmt: skip


def _subtract(cost: dict[str, np.ndarray], frame: pd.DataFrame, index: dict[str, int], months: np.ndarray) -> None:
    if frame.empty:
        return
    p = frame["person_key"].map(index)
    m = _month_index(frame["month"], months)
    ok = p.notna().to_numpy() & (m < len(months))
    for d, rows in frame[ok].assign(p=p[ok].astype(np.int64), m=m[ok]).groupby("department"):
        target = cost.get(str(d))
        if target is not None:
            np.add.at(target, (rows["p"].to_numpy(), rows["m"].to_numpy()), -rows["amount"].to_numpy(dtype=np.float64))
