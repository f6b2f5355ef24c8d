"""Who is compared with whom: baseline covariates, propensity score, nearest neighbours.

Method (docs/economics.md): every participant is a *unit* at their start month t; every
eligible non-participant is a candidate unit at each month t in which a participant of the
programme started (a pseudo start: the same person can stand in at several months). The
propensity score is a logistic regression (statsmodels) of participation on the baseline
covariates of the 12 months before t; each participant is matched to up to k candidate units
of the *same start month* whose logit score lies within a caliper of 0.2 standard deviations,
with replacement. Balance is the standardised mean difference (SMD) of every covariate before
and after matching; common support is the share of participants whose score lies inside the
candidates' range.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import statsmodels.api as sm

from helhed.evaluation.panel import Panel
from helhed.evaluation.settings import EvaluationConfig

#: Danish labels of the covariates (balance table on the dashboard).
COVARIATE_LABELS = {
    "age": "Alder (år)",
    "age_18_24": "Alder 18-24 år",
    "age_25_29": "Alder 25-29 år",
    "age_30_39": "Alder 30-39 år",
    "age_40_49": "Alder 40-49 år",
    "male": "Mand",
    "months_on_support": "Måneder på offentlig forsørgelse (12 mdr. før start)",
    "active_voksen_social": "Kontakt med voksen/social (12 mdr. før start)",
    "active_sundhed": "Kontakt med sundhed og omsorg (12 mdr. før start)",
    "active_boern_familie": "Kontakt med børn og familie (12 mdr. før start)",
    "departments_mean": "Forvaltninger pr. måned (gns. 12 mdr. før start)",
    "services_mean": "Samtidige ydelser pr. måned (gns. 12 mdr. før start)",
    "log_cost_total": "Udgift i alt 12 mdr. før start (log)",
    "log_cost_beskaeftigelse": "Udgift beskæftigelse 12 mdr. før start (log)",
    "log_cost_boern_familie": "Udgift børn og familie 12 mdr. før start (log)",
    "log_cost_voksen_social": "Udgift voksne og social 12 mdr. før start (log)",
    "log_cost_sundhed": "Udgift sundhed og omsorg 12 mdr. før start (log)",
    "minor_child": "Har barn under 18 år",
    "child_measure": "Barn med foranstaltning (12 mdr. før start)",
    "child_placed": "Barn anbragt uden for hjemmet (12 mdr. før start)",
    "employment_months": "Måneder i ordinær beskæftigelse (12 mdr. før start)",
    "education_months": "Måneder i uddannelse (12 mdr. før start)",
}
GROUP_LABEL = "Ydelse i startmåneden: {}"


@dataclass
class Units:
    """Evaluation units: (person, start month) with their covariates."""

    person: np.ndarray
    start: np.ndarray
    treated: np.ndarray
    enrolment: np.ndarray  # enrolment_id for participants, None for candidates
    covariates: np.ndarray  # [unit, covariate]
    names: list[str]

    def __len__(self) -> int:
        return len(self.person)

    def subset(self, mask: np.ndarray) -> Units:
        return Units(self.person[mask], self.start[mask], self.treated[mask], self.enrolment[mask], self.covariates[mask], self.names)


def _window_sum(cs: np.ndarray, person: np.ndarray, start: np.ndarray, length: int) -> np.ndarray:
    """Sum over the ``length`` months before ``start`` from a cumulative sum with a leading 0 column."""
    return cs[person, start] - cs[person, start - length]


_CUMSUMS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _cumsum(a: np.ndarray) -> np.ndarray:
    """Cumulative sum over months with a leading 0 column (cached per array: every programme reads them)."""
    hit = _CUMSUMS.get(id(a))
    if hit is not None and hit[0] is a:
        return hit[1]
    out = np.zeros((a.shape[0], a.shape[1] + 1))
    np.cumsum(a, axis=1, out=out[:, 1:])
    _CUMSUMS[id(a)] = (a, out)
    return out


def clear_cache() -> None:
    """Forget the cached cumulative sums (the step calls it when it is done with a panel)."""
    _CUMSUMS.clear()


def covariates(panel: Panel, person: np.ndarray, start: np.ndarray, eligible_groups: tuple[str, ...], length: int) -> tuple[np.ndarray, list[str]]:
    """Baseline covariates of units (the matching variables of docs/economics.md)."""
    cols: dict[str, np.ndarray] = {}
    age = panel.age[person, start].astype(float)
    cols["age"] = age
    for name, lo, hi in (("age_18_24", 18, 24), ("age_25_29", 25, 29), ("age_30_39", 30, 39), ("age_40_49", 40, 49)):
        cols[name] = ((age >= lo) & (age <= hi)).astype(float)
    cols["male"] = panel.male[person].astype(float)
    cols["months_on_support"] = _window_sum(_cumsum(panel.support), person, start, length)
    codes = [panel.benefit_groups.index(g) for g in eligible_groups if g in panel.benefit_groups]
    group = panel.group[person, start]
    for g in eligible_groups:
        code = panel.benefit_groups.index(g) if g in panel.benefit_groups else -2
        cols[f"group_{g}"] = (group == code).astype(float)
    cols["group_other"] = (~np.isin(group, codes)).astype(float)  # primary group outside the eligible ones
    for d in ("voksen_social", "sundhed", "boern_familie"):
        cols[f"active_{d}"] = (_window_sum(_cumsum(panel.active[d]), person, start, length) > 0).astype(float)
    cols["departments_mean"] = _window_sum(_cumsum(panel.departments), person, start, length) / length
    cols["services_mean"] = _window_sum(_cumsum(panel.services), person, start, length) / length
    total = np.zeros(len(person))
    for d in panel.cost_departments:
        s = _window_sum(_cumsum(panel.cost[d]), person, start, length)
        total += s
        if d in ("beskaeftigelse", "boern_familie", "voksen_social", "sundhed"):
            cols[f"log_cost_{d}"] = np.log1p(np.maximum(s, 0))
    cols["log_cost_total"] = np.log1p(np.maximum(total, 0))
    cols["minor_child"] = panel.minor_child[person, start].astype(float)
    cols["child_measure"] = (_window_sum(_cumsum(panel.child_measure), person, start, length) > 0).astype(float)
    cols["child_placed"] = (_window_sum(_cumsum(panel.child_placed), person, start, length) > 0).astype(float)
    cols["employment_months"] = _window_sum(_cumsum(panel.employment), person, start, length)
    cols["education_months"] = _window_sum(_cumsum(panel.education), person, start, length)
    names = list(cols)
    return np.column_stack([cols[n] for n in names]), names


def covariate_label(name: str) -> str:
    if name.startswith("group_"):
        return GROUP_LABEL.format(name.removeprefix("group_"))
    return COVARIATE_LABELS.get(name, name)


def units_for(panel: Panel, programme: str, config: EvaluationConfig) -> tuple[Units, dict[str, int]]:
    """Evaluable participants of a programme and the candidate units at their start months.

    A participant is evaluable when the start month has a full baseline in the data and they
    were resident in every baseline month and on the 1st of the start month. A candidate at month
    s is eligible in s and s - 1, resident with a full baseline, 18-64, and neither they nor a
    co-parent of theirs has been enrolled in any programme by s. Returns the units and the counts
    behind the match rate (enrolments, evaluable).
    """
    length = config.baseline_months
    n, t = panel.shape
    enrol = panel.enrolments[panel.enrolments["programme_code"] == programme]
    res_cs = _cumsum(panel.resident)
    ep, es = enrol["person"].to_numpy(dtype=np.int64), enrol["start"].to_numpy(dtype=np.int64)
    ok = es >= length
    ok[ok] &= (_window_sum(res_cs, ep[ok], es[ok], length) == length) & panel.resident[ep[ok], es[ok]]
    counts = {"enrolments": int(len(enrol)), "evaluable": int(ok.sum())}
    ep, es, eid = ep[ok], es[ok], enrol["enrolment_id"].to_numpy(dtype=object)[ok]
    # Candidates: eligible at each start month a participant started in.
    first_start = np.full(n, t + 1, dtype=np.int64)
    all_e = panel.enrolments
    np.minimum.at(first_start, all_e["person"].to_numpy(dtype=np.int64), all_e["start"].to_numpy(dtype=np.int64))
    # The family's first start: a person whose co-parent (a parent of a child in common) is in a
    # programme shares the treated children (their placements and measures) and cannot be enrolled
    # (a family is enrolled once), so they are not an untreated comparison person either.
    family_start = first_start.copy()
    if len(panel.co_parents):
        np.minimum.at(family_start, panel.co_parents[:, 0], first_start[panel.co_parents[:, 1]])
    family = config.programmes[programme].family if programme in config.programmes else False
    cand_p, cand_t = [], []
    for s in np.unique(es).tolist():
        mask = (
            panel.eligible[:, s] & panel.eligible[:, s - 1] & panel.resident[:, s]
            & (res_cs[:, s] - res_cs[:, s - length] == length)
            & (panel.age[:, s] >= 18) & (panel.age[:, s] <= 64) & (family_start > s)
        )  # fmt: skip
        if family:
            mask &= panel.minor_child[:, s]
        p = np.flatnonzero(mask)
        cand_p.append(p)
        cand_t.append(np.full(len(p), s, dtype=np.int64))
    cp = np.concatenate(cand_p) if cand_p else np.zeros(0, dtype=np.int64)
    ct = np.concatenate(cand_t) if cand_t else np.zeros(0, dtype=np.int64)
    person = np.concatenate([ep, cp])
    start = np.concatenate([es, ct])
    treated = np.concatenate([np.ones(len(ep), dtype=bool), np.zeros(len(cp), dtype=bool)])
    enrolment = np.concatenate([eid, np.full(len(cp), None, dtype=object)])
    x, names = covariates(panel, person, start, config.eligible_benefit_groups, length)
    return exact_on_constant_traits(Units(person, start, treated, enrolment, x, names)), counts


def exact_on_constant_traits(units: Units) -> Units:
    """Drop candidate units with a 0/1 trait that no participant (or every participant) has.

    Such a trait (an adult with an own children's-department record when no participant has
    one) cannot enter the score (it separates the groups perfectly) and cannot be balanced by
    it: candidates that have it are outside the participants' support, so they are left out
    before the score is fitted - exact matching on that trait.
    """
    x = units.covariates
    if not units.treated.any():
        return units
    binary = np.all((x == 0) | (x == 1), axis=0)
    keep = np.ones(len(units), dtype=bool)
    for j in np.flatnonzero(binary):
        values = np.unique(x[units.treated, j])
        if len(values) == 1:
            keep &= units.treated | (x[:, j] == values[0])
    return units.subset(keep)


def _full_rank_columns(design: np.ndarray) -> np.ndarray:
    """Indices of the columns of ``design`` that are linearly independent (pivoted QR; the constant first).

    Dummies of a category that together cover every unit (the benefit groups) are collinear with
    the constant; one of them is dropped as the reference.
    """
    _, r, pivot = scipy.linalg.qr(design, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > 1e-8 * diag[0]).sum()) if len(diag) else 0
    cols = np.sort(pivot[:rank])
    if 0 not in cols:
        cols = np.sort(np.concatenate([[0], cols[:-1]]))
    return cols


#: At most this many candidate units enter the score's fit (a random sample; see propensity_logit).
FIT_SAMPLE = 20_000


def propensity_logit(units: Units, seed: int = 0) -> np.ndarray:
    """Logit of the propensity score from a logistic regression on the standardised covariates.

    Covariates that cannot be estimated are left out: no variation, or a 0/1 covariate that no
    participant (or every participant) has, which would separate the groups perfectly. The fit
    uses every participant and at most ``FIT_SAMPLE`` candidate units drawn at random: sampling
    on the outcome only shifts the intercept of a logistic regression, and matching compares
    scores within a start month, so the shift does not change who is matched. If the
    maximum-likelihood fit does not converge, a lightly penalised (ridge) fit is used instead.
    """
    x = units.covariates
    y = units.treated.astype(float)
    if y.sum() == 0 or y.sum() == len(y):
        return np.zeros(len(y))
    sd = x.std(axis=0)
    binary = np.all((x == 0) | (x == 1), axis=0)
    treated_has = x[units.treated].sum(axis=0)
    keep = (sd > 1e-9) & ~(binary & ((treated_has == 0) | (treated_has == units.treated.sum())))
    z = (x[:, keep] - x[:, keep].mean(axis=0)) / sd[keep]
    design = sm.add_constant(z, has_constant="add")
    fit_rows = np.flatnonzero(units.treated)
    candidates = np.flatnonzero(~units.treated)
    if len(candidates) > FIT_SAMPLE:
        candidates = np.sort(np.random.Generator(np.random.PCG64(seed)).choice(candidates, FIT_SAMPLE, replace=False))
    fit_rows = np.concatenate([fit_rows, candidates])
    design = design[:, _full_rank_columns(design[fit_rows])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = sm.Logit(y[fit_rows], design[fit_rows]).fit(disp=0, maxiter=35)
            params = fit.params
            if not fit.mle_retvals.get("converged", False) or not np.all(np.isfinite(params)):
                raise ValueError("not converged")
        except Exception:  # quasi-separation or a singular design: a ridge penalty keeps it finite
            fit = sm.GLM(y[fit_rows], design[fit_rows], family=sm.families.Binomial()).fit_regularized(alpha=1.0 / len(fit_rows), L1_wt=0.0)
            params = fit.params
    return design @ params


@dataclass
class Matches:
    """Matched pairs (participant unit, candidate unit) and the diagnostics."""

    treated_unit: np.ndarray  # index into units, one per pair
    control_unit: np.ndarray
    distance: np.ndarray
    matched: np.ndarray  # per unit: participant with at least one match
    caliper: float
    on_support: np.ndarray  # per participant unit: score inside the range of all candidates' scores


def nearest_neighbours(units: Units, logit: np.ndarray, neighbours: int, caliper_sd: float) -> Matches:
    """Up to ``neighbours`` candidates of the same start month within the caliper, with replacement."""
    caliper = caliper_sd * float(np.std(logit)) if len(logit) > 1 else 0.0
    t_idx, c_idx, dist = [], [], []
    matched = np.zeros(len(units), dtype=bool)
    on_support = np.zeros(len(units), dtype=bool)
    candidates = logit[~units.treated]
    if len(candidates):
        on_support[units.treated] = (logit[units.treated] >= candidates.min()) & (logit[units.treated] <= candidates.max())
    for s in np.unique(units.start[units.treated]).tolist():
        at = units.start == s
        treated = np.flatnonzero(at & units.treated)
        cand = np.flatnonzero(at & ~units.treated)
        if not len(cand):
            continue
        order = np.argsort(logit[cand], kind="stable")
        cand, scores = cand[order], logit[cand[order]]
        for i in treated.tolist():
            pos = int(np.searchsorted(scores, logit[i]))
            lo, hi = max(0, pos - neighbours), min(len(scores), pos + neighbours)
            window = np.arange(lo, hi)
            d = np.abs(scores[window] - logit[i])
            best = window[np.lexsort((cand[window], d))][:neighbours]
            best = best[np.abs(scores[best] - logit[i]) <= caliper]
            if len(best):
                matched[i] = True
                t_idx.extend([i] * len(best))
                c_idx.extend(cand[best].tolist())
                dist.extend(np.abs(scores[best] - logit[i]).tolist())
    return Matches(np.array(t_idx, dtype=np.int64), np.array(c_idx, dtype=np.int64), np.array(dist), matched, caliper, on_support)


def control_weights(units: Units, matches: Matches) -> np.ndarray:
    """Weight of each unit as a comparison: sum over its participants of 1 / their number of matches."""
    per_treated = np.bincount(matches.treated_unit, minlength=len(units)).astype(float)
    w = np.zeros(len(units))
    np.add.at(w, matches.control_unit, 1.0 / per_treated[matches.treated_unit])
    return w


def balance(units: Units, matches: Matches) -> list[dict[str, float | str]]:
    """Standardised mean differences before matching (all candidates) and after (weighted matches).

    SMD = (mean participants - mean comparison) / sqrt((var participants + var candidates) / 2),
    with the variances before matching in both (so the denominator does not move with the
    matching). "Before" compares every evaluable participant with every candidate unit at the
    same start months; "after" compares the matched participants with their comparison units,
    weighted by :func:`control_weights`.
    """
    x = units.covariates
    t_all = units.treated
    c_all = ~units.treated
    t_m = matches.matched
    w = control_weights(units, matches)
    rows: list[dict[str, float | str]] = []
    for j, name in enumerate(units.names):
        xt, xc = x[t_all, j], x[c_all, j]
        denom = float(np.sqrt((xt.var() + xc.var()) / 2)) if len(xt) and len(xc) else 0.0
        mt_before, mc_before = float(xt.mean()) if len(xt) else np.nan, float(xc.mean()) if len(xc) else np.nan
        mt_after = float(x[t_m, j].mean()) if t_m.any() else np.nan
        mc_after = float(np.average(x[:, j], weights=w)) if w.sum() > 0 else np.nan
        smd = lambda a, b, denom=denom: (a - b) / denom if denom > 0 else 0.0  # noqa: E731
        rows.append({
            "covariate": name, "mean_participants": mt_before, "mean_participants_matched": mt_after,
            "mean_comparison_before": mc_before, "mean_comparison_after": mc_after,
            "smd_before": smd(mt_before, mc_before), "smd_after": smd(mt_after, mc_after) if t_m.any() else np.nan,
        })  # fmt: skip
    return rows
