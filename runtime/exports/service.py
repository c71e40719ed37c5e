"""Export a list query as CSV or Excel, streamed page by page (PL-20 export channel).

Rows are read through the permissioned records service in keyset pages, exactly as the list
page and the API read them: the same filters, sort and search, the same data scope, masked
fields masked and hidden fields left out. Exporting needs the role's `export` action on the
entity besides `read`. The row count is checked against the `export.max_rows` parameter before
anything is written, so an oversized export is refused with a clear message instead of being
cut off silently. Every export leaves an operation-log entry once its file is complete (or
abandoned), with the row count and the filters used.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from runtime.blueprints.model import Entity, View, label_text
from runtime.errors import BadRequest
from runtime.exports.columns import ExportColumn, export_columns
from runtime.exports.journal import Actor, log_output, query_detail
from runtime.exports.limits import MAX_ROWS_KEY, PAGE_SIZE
from runtime.exports.values import ValueFormatter, kind_of, local_time
from runtime.exports.writers import csv_stream, xlsx_stream
from runtime.records.context import Context
from runtime.records.names import Names
from runtime.records.query import ListQuery
from runtime.services import Tessera

FORMATS: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
TOO_LARGE = {
    "zh": "导出结果有 {rows:,} 行，超过单次导出上限 {cap:,} 行；请缩小筛选范围后分批导出",
    "en": "the export would hold {rows:,} rows, more than the limit of {cap:,}; narrow the filters and export in parts",
}


class ExportTooLarge(BadRequest):
    code = "export_too_large"

    def __init__(self, rows: int, cap: int, lang: str):
        self.rows, self.cap = rows, cap
        super().__init__(TOO_LARGE["zh" if lang == "zh" else "en"].format(rows=rows, cap=cap))


@dataclass
class ExportFile:
    filename: str
    ascii_filename: str
    media_type: str
    rows: int
    """Rows counted before writing (the file holds these, unless records change meanwhile)."""
    chunks: Iterator[bytes]

    @property
    def content_disposition(self) -> str:
        """attachment with an ASCII name and the real (Chinese) one in RFC 5987 form."""
        return f"attachment; filename=\"{self.ascii_filename}\"; filename*=UTF-8''{quote(self.filename, safe='')}"


class Exporter:
    def __init__(self, tessera: Tessera, *, page_size: int = PAGE_SIZE):
        self.tessera = tessera
        self.page_size = page_size
        """Rows per keyset page read from the records service while the file is written."""

    def export(
        self,
        entity_id: str,
        query: ListQuery,
        ctx: Context,
        fmt: str,
        *,
        view: View | None = None,
        actor: Actor | None = None,
    ) -> ExportFile:
        """Check everything, then return the file as a lazy stream of bytes (nothing is read yet)."""
        if fmt not in FORMATS:
            raise BadRequest(f"unknown export format '{fmt[:20]}'; use csv or xlsx")
        registry, permissions = self.tessera.registry, self.tessera.permissions
        entity = registry.entity(entity_id)
        if view is not None and view.entity != entity.id:
            raise BadRequest(f"the view '{view.id}' does not show {entity.id} records")
        permissions.require(ctx, entity, "export")
        query = dataclasses.replace(query, cursor=None, limit=self.page_size, count="none")
        rows = self._count(entity, query, ctx)
        cap = int(self.tessera.params.get(MAX_ROWS_KEY))
        if rows > cap:
            raise ExportTooLarge(rows, cap, ctx.lang)
        columns = export_columns(entity, view, permissions.field_levels(ctx, entity), ctx.lang)
        title = label_text(view.opt("label"), ctx.lang) if view and view.opt("label") else entity.label_in(ctx.lang)
        stamp = local_time(self.tessera.clock.now()).strftime("%Y%m%d-%H%M")
        header, kinds = [c.label for c in columns], [kind_of(c.field) for c in columns]
        body = self._rows(entity, query, ctx, columns, cap)
        counted = _Counter(body)
        chunks = csv_stream(header, counted, kinds) if fmt == "csv" else xlsx_stream(title, header, counted, kinds)
        detail = _detail(entity, view, query, fmt)
        return ExportFile(
            filename=f"{_safe_name(title) or entity.id}_{stamp}.{fmt}",
            ascii_filename=f"{entity.id}_{stamp}.{fmt}",
            media_type=FORMATS[fmt],
            rows=rows,
            chunks=self._logged(chunks, counted, detail, ctx, actor),
        )

    def _count(self, entity: Entity, query: ListQuery, ctx: Context) -> int:
        """Exact count through the records service (which also refuses filters on fields the user may not read)."""
        page = self.tessera.records.list(entity.id, dataclasses.replace(query, limit=1, count="exact"), ctx)
        return int(page.total or 0)

    def _rows(
        self, entity: Entity, query: ListQuery, ctx: Context, columns: list[ExportColumn], cap: int
    ) -> Iterator[list[Any]]:
        """People-readable rows, one keyset page at a time (names are looked up per page, then dropped)."""
        fields = [c.field for c in columns]
        cursor: str | None = None
        written = 0
        while True:
            page = self.tessera.records.list(entity.id, dataclasses.replace(query, cursor=cursor), ctx)
            names = Names(self.tessera, ctx)
            names.prime(fields, page.items)
            formatter = ValueFormatter(self.tessera, names, ctx.lang)
            for item in page.items:
                if written >= cap:
                    return
                yield [formatter.value(f, item.get(f.name)) for f in fields]
                written += 1
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def _logged(
        self, chunks: Iterator[bytes], counted: _Counter, detail: dict[str, Any], ctx: Context, actor: Actor | None
    ) -> Iterator[bytes]:
        complete = False
        try:
            yield from chunks
            complete = True
        finally:
            log_output(self.tessera, "export", ctx, actor, {**detail, "rows": counted.count, "complete": complete})


class _Counter:
    """Passes rows through and counts them (what the operation log reports)."""

    def __init__(self, rows: Iterator[list[Any]]):
        self.rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[list[Any]]:
        for row in self.rows:
            self.count += 1
            yield row


def _safe_name(text: str) -> str:
    return UNSAFE_NAME.sub("_", text).strip(" ._")[:80]


def _detail(entity: Entity, view: View | None, query: ListQuery, fmt: str) -> dict[str, Any]:
    return {"entity": entity.id, "view": view.id if view else None, "format": fmt, **query_detail(entity, query)}
