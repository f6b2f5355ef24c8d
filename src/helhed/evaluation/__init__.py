"""Evaluation of the holistic programmes against a matched comparison group (docs/economics.md).

``helhed.evaluation.run.evaluate`` is the nightly step: it reads tonight's build, matches
participants with comparable non-participants, estimates the effects by months since start
with bootstrap intervals, turns them into freed resources, investment and payback, and writes
person-level results to ``build_restricted`` and suppressed aggregates to ``build_marts``.
"""

from helhed.evaluation.run import OUTCOMES, evaluate, outcomes_for

__all__ = ["OUTCOMES", "evaluate", "outcomes_for"]
