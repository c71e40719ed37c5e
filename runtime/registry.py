"""The deployed application in memory: every pack's entities, forms, views, option sets and menus,
with their tables and compiled validators.

Loaded from the stored pack documents (not from disk), so every worker process sees exactly what
was deployed. Option sets are editable by administrators at run time: their stored overrides are
applied on load, and validators are rebuilt because select fields validate against the options.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import sqlalchemy as sa

from runtime.blueprints.model import Entity, Form, OptionSet, Pack, View, option_from_raw
from runtime.errors import NotFound
from runtime.permissions.model import Role
from runtime.permissions.store import load_roles, sync_shipped_roles
from runtime.storage import platform_tables as pt
from runtime.storage.database import Database
from runtime.storage.deploy import deployed_packs
from runtime.storage.entity_tables import EntityTables, build_tables
from runtime.validation import EntityValidator, entity_schema


class Registry:
    def __init__(self, db: Database):
        self.db = db
        self._lock = threading.Lock()
        self.packs: dict[str, Pack] = {}
        self.entities: dict[str, Entity] = {}
        self.forms: dict[str, Form] = {}
        self.views: dict[str, View] = {}
        self.option_sets: dict[str, OptionSet] = {}
        self.tables: dict[str, EntityTables] = {}
        self.roles: dict[str, Role] = {}
        """Every role: shipped by packs (upserted into tessera_roles) and created or edited by administrators."""
        self._validators: dict[str, EntityValidator] = {}
        self.generation = 0
        self._stamp: tuple = ()
        self._checked_at = 0.0
        self.reload()

    @staticmethod
    def _read_stamp(conn: sa.Connection) -> tuple:
        """What changes whenever another process deploys a pack or edits an option set."""
        last_deploy = conn.execute(sa.select(sa.func.max(pt.deployments.c.id))).scalar()
        last_edit = conn.execute(sa.select(sa.func.max(pt.option_overrides.c.updated_at))).scalar()
        edits = conn.execute(sa.select(sa.func.count()).select_from(pt.option_overrides)).scalar()
        last_role = conn.execute(sa.select(sa.func.max(pt.roles.c.updated_at))).scalar()
        roles = conn.execute(sa.select(sa.func.count()).select_from(pt.roles)).scalar()
        return (last_deploy, str(last_edit), edits, str(last_role), roles)

    def refresh_if_changed(self, min_interval: float = 1.0) -> bool:
        """Reload when another process changed what is deployed; checked at most once per interval.

        Several app workers (or `tessera pack deploy` run beside a live server) share one database;
        this keeps every worker on the deployed version without a restart.
        """
        now = time.monotonic()
        if now - self._checked_at < min_interval:
            return False
        self._checked_at = now
        with self.db.read() as conn:
            stamp = self._read_stamp(conn)
        if stamp == self._stamp:
            return False
        self.reload()
        return True

    def reload(self) -> None:
        """Re-read what is deployed; called after every deploy and option-set or role edit."""
        with self.db.read() as conn:
            stamp = self._read_stamp(conn)
            packs = deployed_packs(conn)
            overrides = {r.option_set_id: r.options for r in conn.execute(sa.select(pt.option_overrides))}
            roles = load_roles(conn)
        if sync_shipped_roles(self.db, packs):  # shipped roles new or changed by this deploy
            with self.db.read() as conn:
                stamp = (*stamp[:3], *self._read_stamp(conn)[3:])
                roles = load_roles(conn)
        metadata = sa.MetaData()
        with self._lock:
            self.packs = packs
            self.entities = {e.id: e for p in packs.values() for e in p.entities.values()}
            self.forms = {f.id: f for p in packs.values() for f in p.forms.values()}
            self.views = {v.id: v for p in packs.values() for v in p.views.values()}
            self.option_sets = {}
            for p in packs.values():
                for oset in p.option_sets.values():
                    if oset.id in overrides:
                        oset = OptionSet(
                            oset.id,
                            oset.label,
                            [option_from_raw(o) for o in overrides[oset.id]],
                            {**oset.raw, "options": overrides[oset.id]},
                            oset.pack_id,
                        )
                    self.option_sets[oset.id] = oset
            self.tables = {e.id: build_tables(e, metadata) for e in self.entities.values()}
            self.roles = roles
            self._validators = {}
            self._stamp = stamp
            self.generation += 1

    # lookups ------------------------------------------------------------------------------------
    def entity(self, entity_id: str) -> Entity:
        entity = self.entities.get(entity_id)
        if entity is None:
            raise NotFound(f"unknown entity '{entity_id}'")
        return entity

    def form(self, form_id: str) -> Form:
        form = self.forms.get(form_id)
        if form is None:
            raise NotFound(f"unknown form '{form_id}'")
        return form

    def view(self, view_id: str) -> View:
        view = self.views.get(view_id)
        if view is None:
            raise NotFound(f"unknown view '{view_id}'")
        return view

    def option_set(self, set_id: str) -> OptionSet:
        oset = self.option_sets.get(set_id)
        if oset is None:
            raise NotFound(f"unknown option set '{set_id}'")
        return oset

    def option_values(self, set_id: str) -> list[str]:
        oset = self.option_sets.get(set_id)
        return oset.values() if oset else []

    def default_form(self, entity_id: str) -> Form | None:
        """The form of the entity's default list view, else its first form: an action form (assign a liaison)
        that sorts first by name must not become the record page's layout."""
        view = self.default_view(entity_id)
        named = self.forms.get(view.opt("form") or "") if view is not None else None
        if named is not None and named.entity == entity_id:
            return named
        return next((f for f in self.forms.values() if f.entity == entity_id), None)

    def default_view(self, entity_id: str) -> View | None:
        return next((v for v in self.views.values() if v.entity == entity_id and v.type == "list"), None)

    def extras(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every deployed document of an extra kind (runtime.blueprints.kinds), by id, across packs."""
        return {ident: doc for p in self.packs.values() for ident, doc in p.extras.get(kind, {}).items()}

    def menus(self) -> list[dict[str, Any]]:
        return [item for p in self.packs.values() for item in p.menus]

    def schema(self, entity_id: str) -> dict[str, Any]:
        return entity_schema(self.entity(entity_id), self.option_values)

    def validator(self, entity_id: str) -> EntityValidator:
        validator = self._validators.get(entity_id)
        if validator is None:
            validator = EntityValidator(self.schema(entity_id))
            self._validators[entity_id] = validator
        return validator

    def referencing_fields(self, entity_id: str) -> list[tuple[Entity, str]]:
        """(entity, field) pairs whose reference fields point at entity_id: checked before a delete."""
        return [
            (e, f.name)
            for e in self.entities.values()
            for f in e.fields
            if f.type == "reference" and f.opt("entity") == entity_id
        ]
