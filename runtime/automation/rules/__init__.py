"""Automation rules (PL-09) and the one install call that wires rules and state machines into the app."""

from __future__ import annotations

from typing import Any


def install_rules(app: Any) -> None:
    """Register the rule jobs and write hooks; ``app.automation`` is the engine (``emit``, ``retry``)."""
    from runtime.automation.rules.engine import RuleEngine
    from runtime.automation.states.service import install_state_machines

    app.automation = RuleEngine(app)
    install_state_machines(app)


__all__ = ["install_rules"]
