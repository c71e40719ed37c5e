"""SpiffWorkflow's loggers, kept at WARNING by the workflow host.

Why: SpiffWorkflow logs every task state change at INFO, so a ``tessera worker`` (whose log is at INFO) wrote
a line per state change of every process it ran, burying the lines an operator needs. And while its loggers
sit at their default NOTSET, SpiffWorkflow attaches each task's data (a patient's details in a follow-up or
MDT form) and the workflow's whole task list to every such record, computed even when nothing is emitted,
where any structured log handler would ship them. What a process did is recorded in its history events
(tessera_wf_events); its failures reach the caller as WorkflowError. An operator debugging SpiffWorkflow
itself may lower these levels again after start-up.
"""

from __future__ import annotations

import logging

SPIFF_LOGGERS = ("spiff.task", "spiff.workflow", "spiff.data", "spiff.dmn")


def quiet_spiff_logs() -> None:
    """Only SpiffWorkflow's warnings and errors reach the log; no task data is gathered for records."""
    for name in SPIFF_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:  # a level an operator set on purpose is kept
            logger.setLevel(logging.WARNING)
