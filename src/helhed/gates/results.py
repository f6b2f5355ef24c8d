"""What a gate found: one :class:`ExpectationOutcome` per check, a :class:`GateResult` per suite
run, :class:`GateFailed` and :func:`enforce`, and the readable, redacted wording of outcomes.

**Nothing a gate emits holds a CPR number.** Every outcome passes :func:`redacted_outcome`
(:func:`helhed.redaction.redact_value`) before it is recorded, logged or raised; columns marked
``meta.redact_unexpected_values`` (pseudonym columns) show only the length of an unexpected value.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from helhed.redaction import redact, redact_value

log = logging.getLogger(__name__)

SEVERITIES = ("critical", "warning")
_PARTIAL_LIMIT = 20

@dataclass(frozen=True)
class ExpectationOutcome:
    """The outcome of one expectation, as recorded in ``audit.gate_results``."""

    expectation_type: str
    column: str | None
    kwargs: dict[str, Any]
    severity: str
    success: bool
    observed: dict[str, Any]
    description: str | None = None
    message: str | None = None  # readable text for failures, None when the expectation passed


@dataclass(frozen=True)
class Batch:
    """What a staging gate covered: the entity's files after the last publication, or all of them.

    ``after_file_id`` is the highest ``audit.delivery_files.file_id`` the last publication
    covered (0 for scope ``full`` or before the first publication); ``through_file_id`` the
    entity's newest file when the gate ran. The gate validated the rows of every file in
    between (and rows no file explains); files up to ``after_file_id`` passed an earlier gate.
    """

    scope: str
    entity: str
    source: str
    after_file_id: int
    through_file_id: int
    files: int
    rows: int | None = None

    def describe(self) -> str:
        if self.scope == "full":
            return f"the whole table ({self.rows} rows)"
        if not self.files:
            return f"{self.rows} rows, no file loaded since the last publish (file id {self.after_file_id})"
        return (f"{self.rows} rows of {self.files} file(s) loaded since the last publish "
                f"(file ids {self.after_file_id + 1}-{self.through_file_id})")


@dataclass
class GateResult:
    """The outcome of running one suite against one table."""

    suite: str
    schema: str
    table: str
    run_id: str
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    checked_at: dt.datetime | None = None
    duration_seconds: float = 0.0
    data_docs: Path | None = None
    batch: Batch | None = None

    @property
    def passed(self) -> bool:
        """False if any critical expectation failed."""
        return not any(o.severity == "critical" and not o.success for o in self.outcomes)

    @property
    def failures(self) -> list[str]:
        """Readable messages for the failed critical expectations."""
        return [o.message or "" for o in self.outcomes if o.severity == "critical" and not o.success]

    @property
    def warnings(self) -> list[str]:
        """Readable messages for the failed warning expectations."""
        return [o.message or "" for o in self.outcomes if o.severity == "warning" and not o.success]

    def summary(self) -> str:
        ok = sum(o.success for o in self.outcomes)
        state = "passed" if self.passed else "FAILED"
        covered = f" over {self.batch.describe()}" if self.batch else ""
        return (f"gate {self.suite} on {self.schema}.{self.table}{covered} {state}: {ok}/{len(self.outcomes)} "
                f"expectations met, {len(self.failures)} critical failure(s), {len(self.warnings)} warning(s) "
                f"in {self.duration_seconds:.1f}s (run {self.run_id})")


class GateFailed(Exception):
    """One or more gates had a failed critical expectation."""

    def __init__(self, results: GateResult | Iterable[GateResult]):
        self.results = [results] if isinstance(results, GateResult) else list(results)
        failed = [r for r in self.results if not r.passed]
        lines = []
        for r in failed:
            lines.append(f"Quality gate {r.suite} failed on {r.schema}.{r.table} (run {r.run_id}): "
                         f"{len(r.failures)} critical expectation(s) failed:")
            lines.extend(f"  - {m}" for m in r.failures)
        lines.append("Details: audit.gate_results" + (f"; Data Docs: {failed[0].data_docs}" if failed and failed[0].data_docs else ""))
        super().__init__("\n".join(lines))


def enforce(result: GateResult | Iterable[GateResult]) -> GateResult | list[GateResult]:
    """Raise :class:`GateFailed` if the gate (or any of several gates) did not pass; else return it."""
    results = [result] if isinstance(result, GateResult) else list(result)
    if any(not r.passed for r in results):
        raise GateFailed(results)
    for r in results:
        for w in r.warnings:
            log.warning("gate warning: %s", w)
    return result if isinstance(result, GateResult) else results



def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _column_of(kwargs: Mapping[str, Any]) -> str | None:
    if kwargs.get("column"):
        return str(kwargs["column"])
    if kwargs.get("column_A") or kwargs.get("column_B"):
        return f"{kwargs.get('column_A')},{kwargs.get('column_B')}"
    if kwargs.get("column_list"):
        return ",".join(map(str, kwargs["column_list"]))
    return None


def _exception_message(info: Any) -> str | None:
    """The first error GX caught while computing an expectation (flat or keyed by metric), shortened."""
    if not isinstance(info, Mapping):
        return None
    candidates = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, Mapping)]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            message = str(candidate.get("exception_message") or "exception").strip()
            first = message.split("\n[SQL:")[0].strip()
            return first if len(first) <= 500 else first[:497] + "..."
    return None


def _mask(value: Any) -> str:
    """A value of a column marked ``redact_unexpected_values`` (a pseudonym column): its length only."""
    return f"<redacted: {len(str(value))} characters>"


def _observed(expectation_type: str, result: Mapping[str, Any], exception: str | None, mask: bool) -> dict[str, Any]:
    if exception:
        return {"exception": redact(exception)}
    observed: dict[str, Any] = {}
    if "observed_value" in result:
        observed["observed_value"] = result["observed_value"]
        if expectation_type != "unexpected_rows_expectation" and result.get("details"):
            observed["details"] = result["details"]  # e.g. missing/unexpected columns; never data rows
    if "unexpected_count" in result:
        for key in ("element_count", "missing_count", "unexpected_count", "unexpected_percent"):
            if key in result:
                observed[key] = result[key]
        partial = list(result.get("partial_unexpected_list") or [])[:_PARTIAL_LIMIT]
        observed["partial_unexpected_list"] = [_mask(v) for v in partial] if mask else partial
    return redact_value(_jsonable(observed))


def _redacted_outcome(o: ExpectationOutcome) -> ExpectationOutcome:
    """The one place every outcome passes before it is recorded, logged or raised: CPR-like text
    in kwargs, observed values, descriptions and messages becomes :data:`helhed.redaction.CPR_MARKER`."""
    return replace(
        o, kwargs=redact_value(o.kwargs), observed=redact_value(o.observed),
        column=None if o.column is None else redact(o.column),
        description=None if o.description is None else redact(o.description),
        message=None if o.message is None else redact(o.message),
    )


def _redact_for_docs(r: Any, mask: bool) -> None:
    """Redact one GX ``ExpectationValidationResult`` in place before Data Docs render it."""
    if r.result:
        if mask:
            for key in ("partial_unexpected_list", "unexpected_list"):
                if key in r.result:
                    r.result[key] = [_mask(v) for v in r.result[key]]
            for key in ("partial_unexpected_counts", "partial_unexpected_index_list", "unexpected_index_list"):
                r.result.pop(key, None)
        if r.expectation_config is not None and r.expectation_config.type == "unexpected_rows_expectation":
            r.result.pop("details", None)   # person-level rows
        r.result = redact_value(_jsonable(r.result))
    if r.exception_info:
        r.exception_info = redact_value(_jsonable(r.exception_info))
    if r.expectation_config is not None:
        r.expectation_config.kwargs = redact_value(_jsonable(r.expectation_config.kwargs))
    if getattr(r, "rendered_content", None):
        r.rendered_content = None   # rendered from the unredacted values; Data Docs render again


def _describe(expectation_type: str, observed: Mapping[str, Any]) -> str:
    if "exception" in observed:
        return f"error: {observed['exception']}"
    if expectation_type == "unexpected_rows_expectation" and "observed_value" in observed:
        return f"{observed['observed_value']} unexpected row(s)"
    if "unexpected_count" in observed:
        text = f"{observed['unexpected_count']} of {observed.get('element_count', '?')} rows unexpected"
        if observed.get("unexpected_percent") is not None:
            text += f" ({observed['unexpected_percent']:.3g}% of non-null)"
        examples = list(dict.fromkeys(json.dumps(v, ensure_ascii=False) for v in observed.get("partial_unexpected_list", [])))
        if examples:
            text += ", e.g. " + ", ".join(examples[:5])
        return text
    if "observed_value" in observed:
        text = f"observed {json.dumps(observed['observed_value'], ensure_ascii=False)}"
        details = observed.get("details") or {}
        mismatched = details.get("mismatched") if isinstance(details, dict) else None
        if mismatched:
            text += f" (mismatched: {json.dumps(mismatched, ensure_ascii=False)})"
        return text
    return "failed"


def _message(schema: str, table: str, o: ExpectationOutcome) -> str:
    what = o.expectation_type
    if o.column:
        what += f" on column {o.column}" if "," not in o.column else f" on columns {o.column}"
    if o.description:
        what += f" ({o.description})"
    elif o.expectation_type in ("expect_column_values_to_be_in_set", "expect_column_values_to_match_regex",
                                "expect_column_values_to_be_between", "expect_column_values_to_be_of_type",
                                "expect_table_row_count_to_be_between"):
        spec = {k: v for k, v in o.kwargs.items() if k not in ("column", "batch_id")}
        what += f" {json.dumps(spec, ensure_ascii=False, default=str)}"
    return f"{schema}.{table}: {what} [{o.severity}] failed: {_describe(o.expectation_type, o.observed)}"


