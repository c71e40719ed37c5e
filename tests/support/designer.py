"""Shared set-up of the designer browser tests (form, entity and view designers, issue 7).

A live server with the UI and the builder API, a signed-in Chromium page, drag and drop that
SortableJS understands (it runs in fallback mode, driven by mouse events), screenshots, and
publishing a draft through the builder core as BC's publish page would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends, FastAPI

import ui.app
from runtime.api import create_app
from runtime.services import Tessera
from tests.conftest import ADMIN_PASSWORD, REPO
from tests.support.browser import require_chromium
from tests.support.server import live_server

playwright_api = pytest.importorskip("playwright.sync_api")

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "test-artifacts"
DESKTOP = {"width": 1366, "height": 900}
TABLET = {"width": 820, "height": 1180}
DESIGNER_PAGES = ("builder_forms", "builder_entities", "builder_views")


def builder_app(tessera: Tessera) -> FastAPI:
    """The UI with the builder API; the designer routers are added if the UI router does not list them yet."""
    extensions: list[Any] = [ui.app.install]
    try:
        import builder.api

        extensions.append(builder.api.install)
    except ImportError:  # the builder API is optional for the designer pages
        pass
    app = create_app(tessera, extensions=extensions)
    paths = {getattr(route, "path", "") for route in app.routes}
    if "/builder/{pack_id}/forms/{form_id}" not in paths:
        import importlib

        from ui.csrf import verify_csrf

        for name in DESIGNER_PAGES:
            module = importlib.import_module(f"ui.routes.{name}")
            app.include_router(module.router, dependencies=[Depends(verify_csrf)], include_in_schema=False)
    return app


def chromium() -> Iterator[Any]:
    """Body of a module-scoped `browser` fixture: Debian's Chromium driven by Playwright."""
    executable = require_chromium()
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        chromium.close()


def serve(tessera: Tessera) -> Iterator[str]:
    """Body of a `base_url` fixture: the app on a live loopback server."""
    with live_server(builder_app(tessera)) as url:
        yield url


def sign_in(browser: Any, base_url: str, viewport: dict[str, int] = DESKTOP, path: str = "/") -> Any:
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai", device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(base_url + "/login?next=" + path)
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(base_url + path)
    return page


def drag(page: Any, source: str, target: str, *, where: str = "center", reaim: bool = False) -> None:
    """Drag with real mouse moves (SortableJS fallback mode): press, move in steps, release.

    `where` is "center", "before" (upper-left part of the target) or "after" (lower-right part).
    `reaim` follows a target that moves away while the placeholder travels (a section below a list
    that grows); never for a target in the same list, where following it would swap back.
    """
    page.locator(source).scroll_into_view_if_needed()
    src = page.locator(source).bounding_box()
    assert src, source
    page.mouse.move(src["x"] + src["width"] / 2, src["y"] + src["height"] / 2)
    page.mouse.down()
    page.mouse.move(src["x"] + src["width"] / 2 + 8, src["y"] + src["height"] / 2 + 8, steps=4)
    fx = {"center": 0.5, "before": 0.2, "after": 0.8}[where]
    last = None
    steps_list = (20, 6, 6) if reaim else (20,)  # lists move while a placeholder travels: aim again
    for steps in steps_list:
        box = page.locator(target).bounding_box()
        assert box, target
        x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * (0.5 + (fx - 0.5) / 2)
        if last is not None and abs(last[0] - x) < 3 and abs(last[1] - y) < 3:
            break
        page.mouse.move(x, y, steps=steps)
        page.wait_for_timeout(150)
        last = (x, y)
    page.mouse.up()
    page.wait_for_timeout(200)


def shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # a scrolled page paints its sticky top bar mid-image
    page.wait_for_timeout(100)
    page.screenshot(path=str(path), full_page=full_page)
    return path


def save_draft(page: Any) -> None:
    page.click("#fd-save")
    playwright_api.expect(page.locator('#fd-status [data-status="saved"]')).to_be_visible()


def publish(tessera: Tessera, pack_id: str, comment: str = "designer test") -> dict:
    """Publish the draft through the builder core (what BC's publish page calls)."""
    from builder.workspace import Workspace

    admin = tessera.users.by_username("admin")
    return Workspace(tessera).publish(pack_id, user="admin", user_id=admin.id if admin else None, comment=comment)
