"""Wiring of scores and pools into the application (one line in runtime/services.py)."""

from __future__ import annotations

from typing import Any


def install_scores_and_pools(app: Any) -> None:
    """``app.scores`` (recompute hook + jobs) and ``app.pools`` (operations + daily auto-recycle job).
    Called after the job engine and the notifier exist, so the tasks register with them."""
    from runtime.automation.pools.service import Pools
    from runtime.automation.scores.service import Scores

    app.scores = Scores(app)
    app.pools = Pools(app)
