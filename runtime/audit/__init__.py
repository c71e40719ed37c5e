"""Audit trail of record changes: the write hook (`trail`) and its queries (`queries`)."""

from runtime.audit.queries import AuditFilter, AuditPage, search, timeline
from runtime.audit.trail import AuditTrail, compute_changes

__all__ = ["AuditFilter", "AuditPage", "AuditTrail", "compute_changes", "search", "timeline"]
