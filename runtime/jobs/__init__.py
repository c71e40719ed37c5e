"""Background jobs: one interface (``app.jobs``) over an outbox table, run in-process, by workers or procrastinate."""

from runtime.jobs.service import Jobs

__all__ = ["Jobs"]
