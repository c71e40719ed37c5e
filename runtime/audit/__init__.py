"""Audit trail of record changes: the write hook (`trail`), its queries (`queries`) and what readers
may see of it (`visibility`, shared by the API and the web pages)."""

from runtime.audit.queries import AuditFilter, AuditPage, search, timeline
from runtime.audit.trail import AuditTrail, compute_changes
from runtime.audit.visibility import admin_search, is_sealed, record_history, sealed_out, visible, with_actors

__all__ = [
    "AuditFilter",
    "AuditPage",
    "AuditTrail",
    "admin_search",
    "compute_changes",
    "is_sealed",
    "record_history",
    "sealed_out",
    "search",
    "timeline",
    "visible",
    "with_actors",
]
