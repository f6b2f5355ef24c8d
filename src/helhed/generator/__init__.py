"""Synthetic municipality generator (``helhed generate``).

Produces delivery folders in the real source formats (see docs/architecture.md, "Source
files") plus a truth manifest, so every figure the warehouse shows can be checked against
a number that was planted on purpose. See docs/generator.md.
"""

from helhed.generator.core import DEFAULT_END_DATE, generate

__all__ = ["generate", "DEFAULT_END_DATE"]
