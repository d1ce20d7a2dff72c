"""``/docs``: Swagger UI served from local files, never from a CDN.

The assets come from the ``swagger-ui-py`` package (Swagger UI 5, which reads OpenAPI
3.1). Without it, ``/docs`` answers 404 saying so, and ``/openapi.json`` is still served.
The online validator badge is switched off, so the page makes no outside request.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from llmplan.api.errors import error_response
from llmplan.api.schemas import ErrorBody

ASSETS_PATH = "/docs/assets"
NEEDED = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")


def swagger_assets() -> Path | None:
    """Folder of the Swagger UI files, or None if the package is not installed."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    return folder if all((folder / name).is_file() for name in NEEDED) else None


def install_docs(app: FastAPI, enabled: bool = True) -> bool:
    """Add ``/docs``; True if Swagger UI is served."""
    assets = swagger_assets() if enabled else None
    if assets is None:

        @app.get("/docs", include_in_schema=False)
        def no_docs() -> JSONResponse:
            reason = (
                "interactive docs are off"
                if not enabled
                else "interactive docs need the swagger-ui-py package (pip install 'llmplan[web]')"
            )
            message = f"{reason}; the API schema is at /openapi.json"
            return error_response(404, ErrorBody(code="not_found", message=message))

        return False
    app.mount(ASSETS_PATH, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        )

    return True
