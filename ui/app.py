"""The web UI as an extension of the runtime's FastAPI app (entry point ``tessera.extensions``: ui).

`install` mounts the vendored front-end libraries and the UI's own static files, adds the page
routes (all CSRF-checked) and replaces the API's JSON error answers with friendly pages for
page requests. The runtime never imports this package.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from runtime.services import Tessera
from ui.assets import mount_vendor_assets
from ui.errors import install_error_pages
from ui.routes import router
from ui.templating import STATIC_DIR


def install(app: FastAPI, tessera: Tessera) -> None:
    mount_vendor_assets(app)
    app.mount("/static/ui", StaticFiles(directory=STATIC_DIR / "ui"), name="ui-static")
    app.include_router(router)
    install_error_pages(app)
