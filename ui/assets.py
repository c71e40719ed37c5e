"""Vendored front-end libraries, served from ``node_modules`` under ``/static/vendor/``.

The libraries are pinned in ``package.json``/``package-lock.json`` and installed by
``npm ci`` (``make setup``). Each entry of :data:`ASSET_PACKAGES` maps a URL prefix to a
folder inside ``node_modules``; :func:`mount_vendor_assets` mounts it at
``/static/vendor/<prefix>``.

Files that templates reference (all checked to exist after ``npm ci``)::

    /static/vendor/htmx/htmx.min.js
    /static/vendor/bootstrap/css/bootstrap.min.css
    /static/vendor/bootstrap/js/bootstrap.bundle.min.js      (includes Popper)
    /static/vendor/bootstrap-icons/bootstrap-icons.min.css   (loads fonts/bootstrap-icons.woff2)
    /static/vendor/sortablejs/Sortable.min.js
    /static/vendor/echarts/echarts.min.js
    /static/vendor/bpmn-js/bpmn-modeler.production.min.js
    /static/vendor/bpmn-js/bpmn-viewer.production.min.js
    /static/vendor/bpmn-js/assets/diagram-js.css
    /static/vendor/bpmn-js/assets/bpmn-js.css
    /static/vendor/bpmn-js/assets/bpmn-font/css/bpmn-embedded.css
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

log = logging.getLogger(__name__)

VENDOR_URL_PREFIX = "/static/vendor"

#: URL prefix (under ``/static/vendor/``) -> folder relative to ``node_modules``.
ASSET_PACKAGES: dict[str, str] = {
    "htmx": "htmx.org/dist",
    "bootstrap": "bootstrap/dist",
    "bootstrap-icons": "bootstrap-icons/font",
    "sortablejs": "sortablejs",
    "bpmn-js": "bpmn-js/dist",
    "echarts": "echarts/dist",
}

#: Files (relative to ``/static/vendor/``) that pages load; see :func:`missing_vendor_files`.
REQUIRED_FILES: tuple[str, ...] = (
    "htmx/htmx.min.js",
    "bootstrap/css/bootstrap.min.css",
    "bootstrap/js/bootstrap.bundle.min.js",
    "bootstrap-icons/bootstrap-icons.min.css",
    "bootstrap-icons/fonts/bootstrap-icons.woff2",
    "sortablejs/Sortable.min.js",
    "echarts/echarts.min.js",
    "bpmn-js/bpmn-modeler.production.min.js",
    "bpmn-js/bpmn-viewer.production.min.js",
    "bpmn-js/assets/diagram-js.css",
    "bpmn-js/assets/bpmn-js.css",
    "bpmn-js/assets/bpmn-font/css/bpmn-embedded.css",
)


def node_modules_dir() -> Path:
    """The ``node_modules`` folder: ``$TESSERA_NODE_MODULES`` or the one at the repo root."""
    override = os.environ.get("TESSERA_NODE_MODULES")
    if override:
        return Path(override).expanduser().resolve()
    return Path(__file__).resolve().parent.parent / "node_modules"


def vendor_url(path: str) -> str:
    """URL of a vendored file, e.g. ``vendor_url("htmx/htmx.min.js")``."""
    return f"{VENDOR_URL_PREFIX}/{path.lstrip('/')}"


def missing_vendor_files() -> list[str]:
    """Entries of :data:`REQUIRED_FILES` not present on disk (empty when all is installed)."""
    root = node_modules_dir()
    missing = []
    for rel in REQUIRED_FILES:
        prefix, _, rest = rel.partition("/")
        if not (root / ASSET_PACKAGES[prefix] / rest).is_file():
            missing.append(rel)
    return missing


def mount_vendor_assets(app: FastAPI) -> None:
    """Mount every :data:`ASSET_PACKAGES` folder as ``StaticFiles`` at ``/static/vendor/<prefix>``.

    A missing folder is skipped with a warning so the app still starts (pages then lack
    that library); run ``make setup`` or ``npm ci`` to install them.
    """
    root = node_modules_dir()
    for prefix, rel in ASSET_PACKAGES.items():
        folder = root / rel
        if not folder.is_dir():
            log.warning(
                "vendor assets %r not found at %s; %s/%s/ will return 404 (run `npm ci`)",
                prefix,
                folder,
                VENDOR_URL_PREFIX,
                prefix,
            )
            continue
        app.mount(
            f"{VENDOR_URL_PREFIX}/{prefix}",
            StaticFiles(directory=folder),
            name=f"vendor-{prefix}",
        )
