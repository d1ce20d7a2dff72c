"""llmplan's REST API (FastAPI): an edge layer over the core; the core never imports it.

Public API::

    from llmplan.api import Settings, create_app
    app = create_app(Settings.from_env())   # an ASGI app; `llmplan serve` runs it

Endpoints (all JSON; every error is ``{code, message, field, errors}``):

=========================================  ==============================================
``GET /health``                             up? (no token needed)
``GET /openapi.json``, ``GET /docs``        the schema; Swagger UI from local files
``POST /api/v1/memory|perf|validate``       as ``llmplan memory|perf|validate --json``
``POST /api/v1/simulate``                   501 until the simulator is merged
``GET /api/v1/catalog/gpus|models|engines`` catalogs with ``search``; ``/{name}`` for one
``GET /api/v1/catalog/precisions|prices``   precisions; prices by kind, GPU, pricing
``GET /api/v1/examples[/{name}]``           the bundled example scenarios
``GET /api/v1/schema/scenario``             JSON Schema of a scenario
``POST|GET /api/v1/scenarios``              save (v1) / list saved scenarios
``POST /api/v1/scenarios/check``            validate a scenario without saving it
``GET|PUT|DELETE /api/v1/scenarios/{id}``   read (ETag) / new version (If-Match) / delete
``GET /api/v1/scenarios/{id}/versions[/n]`` the history; one version
``GET /api/v1/scenarios/{id}/yaml``         export as a scenario file
``POST /api/v1/scenarios/{id}/duplicate``   copy as a new scenario
``GET /api/v1/scenarios/{id}/diff``         line diff of two versions (``from``, ``to``)
``POST /api/v1/scenarios/{id}/restore``     an old version saved as the newest
``POST /api/v1/scenarios/{id}/rename``      a new name (a new version)
``POST /api/v1/yaml/edit``                  set/append/remove fields, comments kept
``POST /api/v1/plans``                      plan (a job: 202 + Location)
``GET /api/v1/plans[/{id}]``, ``DELETE``    saved plan results
``GET /api/v1/jobs[/{id}]``, ``DELETE``     job status, progress and result; cancel
=========================================  ==============================================
"""

from llmplan.api.app import create_app
from llmplan.api.settings import Settings, read_token_file

__all__ = ["Settings", "create_app", "read_token_file"]
