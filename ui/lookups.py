"""Display names for ids in records, for page cells: the runtime's batched `Names` (also used by exports)."""

from __future__ import annotations

from runtime.records.names import Names

Lookups = Names

__all__ = ["Lookups"]
