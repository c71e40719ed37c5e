"""The designers' side of the builder core: who may design, which draft documents a page edits, saving.

Every designer page reads the pack's draft (a copy of the deployed pack until the first save) and
writes whole documents back through ``builder.workspace.Workspace.save_document``. A designer
save often touches several documents at once (a new field lives in the entity *and* on the form,
a new choice field brings its option set); all of them are checked against their JSON Schema
first, so a save is all-or-nothing and the draft never holds half of a change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from builder.access import require_designer
from runtime.api.deps import tessera as get_tessera
from runtime.blueprints.errors import PackInvalid
from runtime.blueprints.loader import document_errors, kind_of
from runtime.blueprints.model import label_text
from runtime.errors import BadRequest, NotFound
from runtime.identity.users import User
from runtime.records import Context
from ui.i18n import pick_language, t
from ui.session import require_user, ui_context

FOLDER_KINDS = {"entities": "entity", "forms": "form", "views": "view", "option_sets": "option_set"}
MAX_BODY = 2_000_000
"""The largest design a page may post: far above any real form, small enough to refuse abuse."""


async def json_body(request: Request) -> dict[str, Any]:
    """The posted design as a JSON object (the designer scripts post JSON with the CSRF header)."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise BadRequest("the design is too large")
    try:
        data = json.loads(body or b"{}")
    except json.JSONDecodeError as exc:
        raise BadRequest(f"invalid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise BadRequest("expected a JSON object")
    return data


def option_set_docs(design: Design, data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(path, document) of the option sets a save brings; sets of other packs cannot be changed here."""
    documents = design.documents()
    docs = []
    for set_id, doc in (data.get("option_sets") or {}).items():
        if not isinstance(doc, dict) or doc.get("id") != set_id:
            raise BadRequest("an option set does not match its id")
        found = find_document(documents, "option_sets", set_id)
        if found is None and set_id in design.app.registry.option_sets:
            raise BadRequest(f"the option set '{set_id}' belongs to another pack")
        docs.append((found[0] if found else f"option_sets/{set_id}.json", doc))
    return docs


@dataclass
class Design:
    """One designer request: the signed-in designer, the runtime and the pack being edited."""

    user: User
    ctx: Context
    app: Any
    pack_id: str
    _draft: Any = field(default=None, repr=False)

    @property
    def lang(self) -> str:
        return self.ctx.lang

    def t(self, key: str, **params: Any) -> str:
        return t(self.ctx.lang, key, **params)

    def workspace(self) -> Any:
        """BA's Workspace; imported late so the rest of the UI never depends on the builder core."""
        from builder.workspace import Workspace

        return Workspace(self.app)

    def draft(self) -> Any:
        """The pack's draft (NotFound when the pack is not deployed), read once per request."""
        if self._draft is None:
            self._draft = self.workspace().draft(self.pack_id)
        return self._draft

    def documents(self) -> dict[str, Any]:
        return self.draft().documents

    def pack_name(self) -> str:
        manifest = self.documents().get("pack.json") or {}
        return label_text(manifest.get("name"), self.lang) or self.pack_id


def designer(request: Request, pack_id: str) -> Design:
    """The request's designer; anonymous visitors are sent to sign in, others without the right get 403."""
    user = require_user(request)
    ctx = ui_context(request, user)
    app = get_tessera(request)
    require_designer(app, ctx)
    return Design(user, ctx, app, pack_id)


def find_document(documents: dict[str, Any], folder: str, ident: str) -> tuple[str, dict[str, Any]] | None:
    """(relative path, document) of the document with this id in a folder; files need not be named by id."""
    preferred = f"{folder}/{ident}.json"
    doc = documents.get(preferred)
    if isinstance(doc, dict) and doc.get("id") == ident:
        return preferred, doc
    for rel, doc in sorted(documents.items()):
        if rel.startswith(folder + "/") and isinstance(doc, dict) and doc.get("id") == ident:
            return rel, doc
    return None


def require_document(documents: dict[str, Any], folder: str, ident: str) -> tuple[str, dict[str, Any]]:
    found = find_document(documents, folder, ident)
    if found is None:
        raise NotFound(f"'{ident}' is not in {folder}/ of this pack")
    return found


def folder_docs(documents: dict[str, Any], folder: str) -> dict[str, dict[str, Any]]:
    """Documents of one folder by id."""
    return {
        doc["id"]: doc
        for rel, doc in sorted(documents.items())
        if rel.startswith(folder + "/") and isinstance(doc, dict) and isinstance(doc.get("id"), str)
    }


def known_entities(design: Design) -> dict[str, dict[str, Any]]:
    """Entities a reference may point at: this draft's, plus those other deployed packs provide."""
    out = {e.id: e.raw for e in design.app.registry.entities.values() if e.pack_id != design.pack_id}
    out.update(folder_docs(design.documents(), "entities"))
    return out


def known_option_sets(design: Design) -> dict[str, dict[str, Any]]:
    """Option sets a choice field may use: this draft's, plus the deployed ones of other packs."""
    out = {o.id: o.raw for o in design.app.registry.option_sets.values() if o.pack_id != design.pack_id}
    out.update(folder_docs(design.documents(), "option_sets"))
    return out


def unique_id(base: str, taken: set[str]) -> str:
    """base, base_2, base_3...: ids the designer invents must not collide (identifier pattern, 40 chars)."""
    base = base[:36]
    if base not in taken:
        return base
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


@dataclass
class SaveResult:
    ok: bool
    errors: list[dict[str, Any]]
    warnings: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "errors": self.errors, "warnings": self.warnings}


def save_documents(design: Design, docs: list[tuple[str, dict[str, Any]]]) -> SaveResult:
    """Check every document against its schema, then store them in order; returns readable problems.

    Order matters for readers of the draft in between, so callers pass option sets first, then the
    entity, then the form or view that uses it.
    """
    errors: list[dict[str, Any]] = []
    for rel, doc in docs:
        kind = kind_of(rel)
        if kind is None or not isinstance(doc, dict):
            errors.append({"file": rel, "pointer": "", "message": "not a document the designers edit"})
            continue
        errors.extend({"file": rel, "pointer": ptr, "message": msg} for ptr, msg in document_errors(kind, doc))
    if errors:
        return SaveResult(False, describe(design, errors, dict(docs)), [])
    ws = design.workspace()
    warnings: list[dict[str, Any]] = []
    for rel, doc in docs:
        try:
            warnings = ws.save_document(design.pack_id, rel, doc, user=design.user.username)
        except PackInvalid as exc:
            found = [{"file": e.file, "pointer": e.pointer, "message": e.message} for e in exc.errors]
            return SaveResult(False, describe(design, found, dict(docs)), [])
    return SaveResult(True, [], describe(design, list(warnings or []), dict(docs)))


def describe(design: Design, problems: list[Any], docs: dict[str, Any]) -> list[dict[str, Any]]:
    """Problems as the designers show them: where in words (entity, field label), message, field name."""
    documents = {**design.documents(), **docs}
    out = []
    for p in problems:
        get = p.get if isinstance(p, dict) else (lambda k, _p=p: getattr(_p, k, None))
        file, ptr = str(get("file") or ""), str(get("pointer") or "")
        where, field_name = _where(documents.get(file), file, ptr, design.lang)
        out.append(
            {
                "file": file,
                "pointer": ptr,
                "where": where,
                "field": field_name,
                "message": pick_language(str(get("message") or ""), design.lang),
            }
        )
    return out


def _where(doc: Any, file: str, ptr: str, lang: str) -> tuple[str, str | None]:
    """'实体「医院」· 字段「床位数」' for /fields/3/... of an entity document; the file otherwise."""
    parts = [p for p in ptr.split("/") if p != ""]
    folder = file.split("/", 1)[0]
    what = {"entities": "where.entity", "forms": "where.form", "views": "where.view", "option_sets": "where.options"}
    name = label_text(doc.get("label"), lang) if isinstance(doc, dict) else ""
    where = t(lang, "bf." + what.get(folder, "where.file"), name=name or file)
    field_name = None
    if (
        isinstance(doc, dict)
        and folder == "entities"
        and len(parts) >= 2
        and parts[0] == "fields"
        and parts[1].isdigit()
    ):
        fields = doc.get("fields") or []
        index = int(parts[1])
        if index < len(fields) and isinstance(fields[index], dict):
            field_name = fields[index].get("name")
            label = label_text(fields[index].get("label"), lang) or field_name
            where += " · " + t(lang, "bf.where.field", name=label)
    elif folder == "forms" and len(parts) >= 2 and parts[0] == "conditions":
        field_name = parts[1]
    return where, field_name
