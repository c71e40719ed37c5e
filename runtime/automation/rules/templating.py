"""Text templates of rule actions ("Renew {{ name }} before {{ end_date }}"): each {{ ... }} is an
expression of the sandboxed language, never Python formatting (which could reach attributes)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from runtime.clock import Clock
from runtime.expressions import check_expression, compile_expression

PLACEHOLDER = re.compile(r"\{\{\s*(.+?)\s*\}\}")


def render(template: str, variables: Mapping[str, Any], clock: Clock | None = None) -> str:
    def one(match: re.Match[str]) -> str:
        value = compile_expression(match.group(1)).evaluate(variables, clock=clock)
        return "" if value is None else str(value)

    return PLACEHOLDER.sub(one, template)


def template_problems(template: str, allowed: list[str] | None) -> list[str]:
    problems = []
    for match in PLACEHOLDER.finditer(template):
        problems += [f"{{{{ {match.group(1)} }}}}: {p}" for p in check_expression(match.group(1), allowed)]
    return problems
