"""The browser UI served by ``llmplan serve`` at ``/``, and the plan exports it offers.

A single page (vanilla JavaScript, no build step) over the REST API: the scenario editor,
the plan view with interactive charts, comparing two saved scenarios, and downloads of a
plan as HTML (the report of :mod:`llmplan.report.plan`), XLSX (:mod:`llmplan.report.xlsx`)
and PDF (:mod:`llmplan.report.pdf`). Everything is served locally (plotly.js from the
installed ``plotly`` package, gzipped: :mod:`.compress`), so it works offline.
"""

from __future__ import annotations

from llmplan.web.routes import install_web

__all__ = ["install_web"]
