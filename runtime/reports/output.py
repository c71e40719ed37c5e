"""A report result as people read it: the screen's cell texts, and CSV / Excel files with the same cells.

One formatting function (`cell_text`) makes the table on screen, the print view and the CSV; the Excel
file holds the same numbers as numbers, rounded exactly like the screen, with a matching number format.
Text cells pass the exports' formula-injection guard (a partner named "=HYPERLINK(...)" stays text).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from runtime.exports.writers import safe_text, sheet_title, xlsx_text
from runtime.reports.engine import Column, ReportResult, Row

DASH = "—"
XLSX_FORMATS = {
    "int": "#,##0",
    "percent": '0.0"%"',
    "pct_change": '+0.0"%";-0.0"%";0.0"%"',
    "points": '+0.0" pp";-0.0" pp"',
}


def cell_text(value: Any, col: Column) -> str:
    """What the screen shows for one cell; None (no data, division by zero, NPS without answers) is '—'."""
    if value is None:
        return DASH
    if col.format == "text" or isinstance(value, str):
        return str(value)
    match col.format:
        case "int":
            return f"{int(value):,}"
        case "number":
            return (
                f"{value:,.{col.decimals}f}"
                if col.decimals
                else f"{value:,.0f}"
                if float(value).is_integer()
                else f"{value:,}"
            )
        case "percent":
            return f"{value:.{col.decimals}f}%"
        case "pct_change":
            return f"{value:+.1f}%"
        case "points":
            return f"{value:+.1f} pp"
    return str(value)


def table(result: ReportResult) -> tuple[list[str], list[list[str]]]:
    """Header and rows of texts exactly as the screen shows them."""
    header = [c.label for c in result.columns]
    rows = [[cell_text(r.values.get(c.key), c) for c in result.columns] for r in result.rows]
    return header, rows


def to_csv(result: ReportResult) -> bytes:
    header, rows = table(result)
    buffer = io.StringIO()
    buffer.write("\ufeff")  # Excel opens UTF-8 Chinese text correctly with a byte-order mark
    writer = csv.writer(buffer)
    writer.writerow([safe_text(h) for h in header])
    for row in rows:
        writer.writerow([safe_text(v) for v in row])
    return buffer.getvalue().encode("utf-8")


def xlsx_value(value: Any, col: Column) -> Any:
    if value is None:
        return DASH
    if isinstance(value, str) or col.format == "text":
        return xlsx_text(str(value))
    return value


def to_xlsx(result: ReportResult) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = sheet_title(result.title)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="EEF2F7")
    for j, col in enumerate(result.columns, start=1):
        cell = sheet.cell(row=1, column=j, value=xlsx_text(col.label))
        cell.font, cell.fill = bold, fill
        sheet.column_dimensions[get_column_letter(j)].width = min(max(len(col.label) * 2 + 2, 10), 40)
    for i, row in enumerate(result.rows, start=2):
        _xlsx_row(sheet, i, row, result.columns)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_row(sheet: Any, i: int, row: Row, columns: list[Column]) -> None:
    for j, col in enumerate(columns, start=1):
        value = row.values.get(col.key)
        cell = sheet.cell(row=i, column=j, value=xlsx_value(value, col))
        if isinstance(value, int | float) and not isinstance(value, bool):
            fmt = XLSX_FORMATS.get(col.format)
            if col.format == "number":
                fmt = "#,##0" + ("." + "0" * col.decimals if col.decimals else "")
            if fmt:
                cell.number_format = fmt
        if row.level != "row":
            cell.font = Font(bold=True)
