"""Which segments a user sees, their records and counts, and saving/deleting one's own segments.

Records are always listed through the records service with the caller's context: a segment names a target
group, it never widens what the caller may read (a liaison opening a shared segment sees only their own
hospitals in it)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from runtime.blueprints.model import View, label_text
from runtime.errors import BadRequest, Forbidden, NotFound
from runtime.records.context import Context
from runtime.records.query import MAX_LIMIT, ListQuery, Page, parse_query_params
from runtime.segments.model import USER_ID_PREFIX, Segment, parse_filters
from runtime.segments.tables import user_segments

MAX_LABEL = 100
MAX_PER_USER = 100


class SegmentService:
    """Segments of one application: pack documents (extra kind 'segment') and the users' saved ones."""

    def __init__(self, app: Any) -> None:
        self.app = app

    # reading --------------------------------------------------------------------------------------
    def visible(self, ctx: Context, entity: str | None = None) -> list[Segment]:
        """The segments the caller may open: on entities they may read; pack segments limited to their roles
        (when the segment names roles); user segments that are theirs or shared with a role they hold."""
        roles = self._roles(ctx)
        out = [s for s in self._pack_segments() if not s.roles or roles is None or set(s.roles) & roles]
        rows = self._user_rows(ctx, roles)
        out += [_from_row(r) for r in rows]
        readable = [s for s in out if (entity is None or s.entity == entity) and self._may_read(ctx, s.entity)]
        return sorted(readable, key=lambda s: (s.source != "pack", s.entity, label_text(s.label, ctx.lang)))

    def get(self, segment_id: str, ctx: Context) -> Segment:
        for segment in self.visible(ctx):
            if segment.id == segment_id:
                return segment
        raise NotFound(f"unknown segment '{segment_id[:100]}'")

    def records(
        self, segment: Segment, ctx: Context, *, limit: int = 50, cursor: str | None = None, count: str = "exact"
    ) -> Page:
        """One page of the segment's records the caller may read, with the exact count on the first page."""
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit must be a whole number between 1 and {MAX_LIMIT}")
        return self.app.records.list(segment.entity, self.query(segment, limit=limit, cursor=cursor, count=count), ctx)

    def query(self, segment: Segment, *, limit: int = 50, cursor: str | None = None, count: str = "exact") -> ListQuery:
        entity = self.app.registry.entity(segment.entity)
        view = self._view(segment)
        sort = ",".join(("-" if s.get("desc") else "") + s["field"] for s in (view.opt("sort", []) if view else []))
        query = parse_query_params(entity, [("sort", sort)] if sort else [])
        query.filters = parse_filters(entity, segment.filters)
        query.search = segment.search
        query.search_fields = list(view.opt("search_fields", [])) if view else []
        query.limit, query.cursor, query.count = limit, cursor, count
        return query

    def view_of(self, segment: Segment) -> View | None:
        return self._view(segment)

    # saving ---------------------------------------------------------------------------------------
    def save(
        self,
        ctx: Context,
        *,
        entity: str,
        label: Any,
        filters: Any,
        search: Any = None,
        view: Any = None,
        shared_role: Any = None,
    ) -> Segment:
        """Save the caller's segment; every part is checked and a mistake is refused with what to fix."""
        if ctx.user_id is None:
            raise Forbidden("only a signed-in user can save a segment")
        if not isinstance(entity, str) or entity not in self.app.registry.entities:
            raise BadRequest(f"unknown entity '{str(entity)[:100]}'")
        if not self._may_read(ctx, entity):
            raise Forbidden(f"you may not read {entity} records")
        if not isinstance(label, str) or not label.strip():
            raise BadRequest("a segment needs a name ('label')")
        if len(label.strip()) > MAX_LABEL:
            raise BadRequest(f"a segment name may have at most {MAX_LABEL} characters")
        parse_filters(self.app.registry.entity(entity), filters)
        if search is not None and (not isinstance(search, str) or len(search) > 200):
            raise BadRequest("'search' must be a text of at most 200 characters")
        if view is not None:
            if not isinstance(view, str) or view not in self.app.registry.views:
                raise BadRequest(f"unknown view '{str(view)[:100]}'")
            if self.app.registry.views[view].entity != entity:
                raise BadRequest(f"the view '{view}' does not list {entity} records")
        if shared_role is not None:
            roles = self._roles(ctx)
            if not isinstance(shared_role, str) or shared_role not in self.app.registry.roles:
                raise BadRequest(f"unknown role '{str(shared_role)[:100]}'")
            if roles is not None and shared_role not in roles:
                raise Forbidden(f"you can share a segment only with a role you hold (not '{shared_role}')")
        with self.app.db.write() as conn:
            mine = conn.execute(
                sa.select(sa.func.count()).select_from(user_segments).where(user_segments.c.owner_id == ctx.user_id)
            ).scalar_one()
            if mine >= MAX_PER_USER:
                raise BadRequest(f"you already have {MAX_PER_USER} segments; delete one first")
            new_id = conn.execute(
                user_segments.insert().values(
                    entity=entity,
                    label=label.strip(),
                    filters=filters,
                    search=(search or "").strip() or None,
                    view=view,
                    shared_role=shared_role,
                    owner_id=ctx.user_id,
                    created_at=self.app.clock.now(),
                )
            ).inserted_primary_key[0]
        return self.get(f"{USER_ID_PREFIX}{new_id}", ctx)

    def delete(self, segment_id: str, ctx: Context) -> None:
        segment = self.get(segment_id, ctx)
        if segment.source != "user":
            raise Forbidden("a segment shipped in a pack cannot be deleted here")
        if segment.owner_id != ctx.user_id and not ctx.is_admin:
            raise Forbidden("only who saved a segment can delete it")
        with self.app.db.write() as conn:
            conn.execute(user_segments.delete().where(user_segments.c.id == int(segment.id[len(USER_ID_PREFIX):])))

    # helpers --------------------------------------------------------------------------------------
    def _pack_segments(self) -> list[Segment]:
        return [
            Segment(
                id=ident,
                entity=doc["entity"],
                label=doc["label"],
                description=doc.get("description"),
                filters=doc.get("filters", []),
                search=doc.get("search"),
                view=doc.get("view"),
                roles=list(doc.get("roles", [])),
            )
            for ident, doc in self.app.registry.extras("segment").items()
        ]

    def _user_rows(self, ctx: Context, roles: set[str] | None) -> list[dict[str, Any]]:
        if ctx.user_id is None:
            return []
        c = user_segments.c
        mine = c.owner_id == ctx.user_id
        if roles is None:  # administrators see every shared segment
            where = sa.or_(mine, c.shared_role.is_not(None))
        else:
            where = sa.or_(mine, c.shared_role.in_(sorted(roles))) if roles else mine
        with self.app.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(user_segments).where(where).order_by(c.id))]

    def _roles(self, ctx: Context) -> set[str] | None:
        """The caller's effective roles; None for an unrestricted caller (administrator, platform)."""
        subject = self.app.permissions.subject(ctx)
        return None if subject.unrestricted else set(subject.roles)

    def _may_read(self, ctx: Context, entity: str) -> bool:
        return entity in self.app.registry.entities and self.app.permissions.can(ctx, entity, "read")

    def _view(self, segment: Segment) -> View | None:
        if segment.view and segment.view in self.app.registry.views:
            return self.app.registry.views[segment.view]
        return self.app.registry.default_view(segment.entity)


def _from_row(row: dict[str, Any]) -> Segment:
    return Segment(
        id=f"{USER_ID_PREFIX}{row['id']}",
        entity=row["entity"],
        label=row["label"],
        filters=row["filters"],
        search=row["search"],
        view=row["view"],
        roles=[row["shared_role"]] if row["shared_role"] else [],
        source="user",
        owner_id=row["owner_id"],
    )
