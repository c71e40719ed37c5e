"""What the three designer pages share when they render: page state for the scripts, crumbs, the tab bar.

Each designer page is a server-rendered shell plus one script that edits documents in the browser;
the script's whole starting point (documents, palette, the words it shows, its URLs) is one JSON
object embedded in the page, so nothing is fetched before the page is usable.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from runtime.blueprints.model import SYSTEM_FIELDS, label_text
from ui.designer.drafts import Design, folder_docs, known_entities, known_option_sets
from ui.designer.palette import RESULT_TYPES, ROW_TYPES, palette
from ui.i18n import MESSAGES
from ui.templating import TEMPLATES_DIR, Crumb, render

NAV_TEMPLATE = "builder/_nav.html"
JS_PREFIX = "bf.js."


def js_messages(lang: str) -> dict[str, str]:
    """The designer scripts' own words in the page language (keys without the 'bf.js.' prefix)."""
    return {
        key[len(JS_PREFIX) :]: texts.get(lang) or texts["zh"]
        for key, texts in MESSAGES.items()
        if key.startswith(JS_PREFIX)
    }


def crumbs(design: Design, *tail: Crumb) -> list[Crumb]:
    """Home > 设计器 > <pack> > ... (BC's pages own /builder and /builder/{pack})."""
    return [
        Crumb(design.t("nav.home"), "/"),
        Crumb(design.t("bf.builder"), "/builder"),
        Crumb(design.pack_name(), f"/builder/{design.pack_id}"),
        *tail,
    ]


def has_nav() -> bool:
    """BC's builder tab bar, included when it exists (the designers also work without it)."""
    return (TEMPLATES_DIR / NAV_TEMPLATE).is_file()


def common_state(design: Design) -> dict[str, Any]:
    """What every designer script needs besides its own documents."""
    lang = design.lang
    entities = known_entities(design)
    option_sets = known_option_sets(design)
    own_sets = set(folder_docs(design.documents(), "option_sets"))
    return {
        "pack": design.pack_id,
        "lang": lang,
        "messages": js_messages(lang),
        "palette": palette(lang),
        "rowTypes": list(ROW_TYPES),
        "resultTypes": list(RESULT_TYPES),
        "systemFields": list(SYSTEM_FIELDS),
        "entities": [
            {"id": eid, "label": label_text(doc.get("label"), lang) or eid} for eid, doc in sorted(entities.items())
        ],
        "optionSets": option_sets,
        "ownOptionSets": sorted(own_sets),
        "urls": {
            "check": f"/builder/{design.pack_id}/_expression",
            "publish": f"/builder/{design.pack_id}/publish",
            "pack": f"/builder/{design.pack_id}",
        },
    }


def render_designer(
    request: Request, design: Design, template: str, *, title: str, active: str, state: dict[str, Any], **extra: Any
) -> HTMLResponse:
    """A designer page: crumbs, BC's tab bar when present, the page's state for its script."""
    return render(
        request,
        template,
        design.user,
        crumbs=crumbs(design, Crumb(title)),
        page_title=title,
        heading=title,
        pack_id=design.pack_id,
        pack_name=design.pack_name(),
        builder_nav=has_nav(),
        builder_tab=active,
        active_tab=active,
        state=state,
        **extra,
    )
