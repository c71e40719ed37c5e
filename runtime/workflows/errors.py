"""Workflow errors: each maps to an HTTP status through runtime.errors and names the process and element."""

from __future__ import annotations

from runtime.errors import BadRequest, Conflict


class WorkflowError(BadRequest):
    """A process could not run a step (a refused expression, a failing action): names process and element."""

    code = "workflow_error"

    def __init__(self, message: str, *, process_id: str | None = None, element_id: str | None = None):
        self.process_id = process_id
        self.element_id = element_id
        where = ", ".join(
            p
            for p in (f"process '{process_id}'" if process_id else "", f"element '{element_id}'" if element_id else "")
            if p
        )
        super().__init__(f"{where}: {message}" if where else message)


class SpecInvalid(WorkflowError):
    """A BPMN file cannot be used: file, element id and a plain message."""

    code = "bpmn_invalid"

    def __init__(self, file: str, element_id: str | None, message: str, line: int | None = None):
        self.file = file
        self.line = line
        self.plain = message
        self.process_id = None
        self.element_id = element_id
        BadRequest.__init__(self, f"{file}{':' + str(line) if line else ''}: {message}")


class TaskClosed(Conflict):
    """The task was completed or cancelled meanwhile (two people acting on the same step)."""

    code = "task_closed"


class StaleSpec(Exception):
    """Internal: a start used a cached spec id and a newer version of the process exists; the host undoes the
    step and starts again on the newest version (never reaches a caller)."""

    def __init__(self, process_id: str):
        super().__init__(f"process '{process_id}' has a newer version than the one cached")
        self.process_id = process_id
