"""GX's Data Docs page views with their Jinja templates compiled once, not once per gate.

Every gate builds its suite's Data Docs site with a new GX context, and GX gives every page
view a new Jinja ``Environment``: each gate parsed and compiled the same few dozen templates
again, which was most of a small gate's time (docs/reliability.md). These subclasses of GX's
views keep the compiled templates in Jinja's own :class:`jinja2.FileSystemBytecodeCache`, in
a folder of ``$HELHED_HOME`` (owner-only) named after the Jinja and Python versions, so every
gate of every run (each Airflow task is its own process) reuses them. Jinja checks each
template's source against the checksum it stored, so a changed template is compiled again.

The site configuration in :func:`helhed.gates.suites.validate` names these classes (GX's
``view`` setting of a site section and of the index builder). This module imports Great
Expectations, so only GX imports it, when it builds Data Docs.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import jinja2
from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView

#: Owner-only: compiled templates are code the gates execute.
CACHE_DIR_MODE = 0o700


def template_cache_dir(home: Path) -> Path:
    """The folder of compiled Data Docs templates under ``home``, one per Jinja and Python version
    (bytecode of one does not load in another)."""
    version = f"jinja{jinja2.__version__}-py{sys.version_info[0]}.{sys.version_info[1]}"
    return home / "cache" / f"data_docs_templates-{version}"


@cache
def _bytecode_cache(directory: str) -> jinja2.BytecodeCache:
    path = Path(directory)
    for folder in (path.parent, path):   # $HELHED_HOME/cache too: every folder in the home is owner-only
        folder.mkdir(mode=CACHE_DIR_MODE, exist_ok=True)
        folder.chmod(CACHE_DIR_MODE)
    return jinja2.FileSystemBytecodeCache(str(path))


class _TemplateCacheMixin:
    """Give a GX page view's Jinja environment the shared bytecode cache (``template_cache``)."""

    env: jinja2.Environment

    def __init__(self, custom_styles_directory: str | None = None, custom_views_directory: str | None = None,
                 template_cache: str | None = None) -> None:
        super().__init__(custom_styles_directory, custom_views_directory)  # type: ignore[call-arg]
        if template_cache:
            self.env.bytecode_cache = _bytecode_cache(template_cache)


class CachedJinjaPageView(_TemplateCacheMixin, DefaultJinjaPageView):
    """GX's page view (expectation-suite and validation pages) over the shared template cache."""


class CachedJinjaIndexPageView(_TemplateCacheMixin, DefaultJinjaIndexPageView):
    """GX's index page view over the shared template cache."""
