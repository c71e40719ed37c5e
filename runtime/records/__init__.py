"""The records service: the one path every channel uses to create, read, update, delete and list."""

from runtime.records.context import Context
from runtime.records.hooks import Hooks, WriteEvent
from runtime.records.query import ListQuery, Page
from runtime.records.service import RecordsService

__all__ = ["Context", "Hooks", "ListQuery", "Page", "RecordsService", "WriteEvent"]
