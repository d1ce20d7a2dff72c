"""The application layer: what the Python API (``llmplan.plan()``, ``llmplan.perf()``...),
the command line and the REST API share: typed options, the computations that assemble
results from the models, one serializer and frozen result models.

Layering (checked by import-linter, see pyproject): catalog and domain objects, then the
models (sizing, perf, sim, cost), then plan, then this package, then the edges (cli, api,
web, report, bench, store). Nothing here imports an edge. This ``__init__`` imports
nothing, so that an edge can use a small module of it without loading the models.
"""
