"""How much one export may hold, as a system parameter administrators can change (PL-22)."""

from __future__ import annotations

from runtime.params import Param, declare

MAX_ROWS_KEY = "export.max_rows"
MAX_ROWS_PARAM = declare(
    Param(
        MAX_ROWS_KEY,
        int,
        100_000,
        {"zh": "单次导出的最大行数", "en": "Most rows one export may hold"},
        min=1,
        max=1_000_000,
    )
)
PAGE_SIZE = 500
"""Rows read per keyset page while streaming: memory stays flat however large the export."""
