"""CSV and Excel files written row by row, so an export never holds all its rows in memory.

Every text cell passes :func:`safe_text`: a cell that starts with = + - @ or a tab/carriage return
would be run as a formula by Excel or LibreOffice (CSV/formula injection, e.g. a hospital named
``=HYPERLINK(...)``), so it gets a leading apostrophe and stays text.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
XLSX_CELL_MAX = 32_767
CHUNK = 64 * 1024
NUMBER_FORMATS = {
    "money": "#,##0.00",
    "percent": '0.##"%"',
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}
SHEET_TITLE_BAD = re.compile(r"[\[\]:*?/\\]")


def safe_text(text: str) -> str:
    """Neutralise a formula: the apostrophe makes spreadsheets show the text instead of running it."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _plain_number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    return f"{value:.6f}".rstrip("0").rstrip(".") if "e" in text else text


def csv_text(value: Any, kind: str) -> str:
    """One cell as CSV text (numbers without thousands separators, so spreadsheets read them as numbers)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if kind == "money":
            return f"{value:.2f}"
        return _plain_number(value) + ("%" if kind == "percent" else "")
    return safe_text(str(value))


def csv_stream(header: list[str], rows: Iterable[list[Any]], kinds: list[str]) -> Iterator[bytes]:
    """UTF-8 with a byte-order mark: Excel then opens Chinese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow([safe_text(h) for h in header])
    for row in rows:
        writer.writerow([csv_text(v, k) for v, k in zip(row, kinds, strict=True)])
        if buffer.tell() >= CHUNK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def xlsx_text(value: str) -> str:
    """Excel refuses control characters and cells over 32,767 characters."""
    return safe_text(ILLEGAL_CHARACTERS_RE.sub("", value))[:XLSX_CELL_MAX]


def sheet_title(text: str) -> str:
    return SHEET_TITLE_BAD.sub(" ", text).strip()[:31] or "Sheet1"


def xlsx_stream(title: str, header: list[str], rows: Iterable[list[Any]], kinds: list[str]) -> Iterator[bytes]:
    """An .xlsx built with openpyxl's write-only mode (rows go to a temporary file, not memory), then streamed."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title(title))
    sheet.freeze_panes = "A2"
    for i, label in enumerate(header):
        sheet.column_dimensions[get_column_letter(i + 1)].width = min(max(len(label) * 2 + 4, 12), 40)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="EEF2F7")
    head = []
    for label in header:
        cell = WriteOnlyCell(sheet, value=xlsx_text(label))
        cell.font, cell.fill = bold, fill
        head.append(cell)
    sheet.append(head)
    for row in rows:
        sheet.append([_xlsx_cell(sheet, v, k) for v, k in zip(row, kinds, strict=True)])
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        handle.seek(0)
        while chunk := handle.read(CHUNK):
            yield chunk


def _xlsx_cell(sheet: Any, value: Any, kind: str) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        # safe_text() leaves no text starting with "=", so openpyxl stores it as a string, never a formula
        return xlsx_text(value)
    number_format = NUMBER_FORMATS.get(kind)
    if number_format is None or isinstance(value, bool):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = number_format
    return cell
