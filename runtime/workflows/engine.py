"""SpiffWorkflow's script engine, with every expression going through Tessera's sandbox.

SpiffWorkflow's own engine runs Python ``eval``/``exec`` over task data; here gateway conditions,
multi-instance collections and completion conditions, timer expressions, message payloads and
service-task parameters are all compiled by :mod:`runtime.expressions` (no imports, no dunders, no
lambdas, bounded work). Script tasks are supported in one restricted form only: lines of
``name = <expression>``, each expression evaluated by the sandbox (checked when a spec is parsed).

The engine is not part of a serialized workflow: the host builds one per loaded instance (it knows the
instance's id, linked record and built-in variables) and sets it after every ``deserialize_json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from runtime.clock import Clock
from runtime.expressions import ExpressionError, compile_expression
from runtime.workflows.errors import WorkflowError

ASSIGNMENT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)\s*(.+?)\s*$")
Builtins = Callable[[str, Mapping[str, Any]], Any]
"""Resolves a built-in variable (e.g. ``requester_manager``) from the task data; raises KeyError if unknown."""
ServiceCall = Callable[[str, dict[str, Any], Any], Any]
"""(operation name, evaluated parameters, spiff task) -> JSON-friendly result."""


def script_assignments(script: str) -> list[tuple[str, str]]:
    """The (variable, expression) pairs of a restricted script; raises ExpressionError for anything else."""
    pairs = []
    for number, line in enumerate(script.splitlines(), start=1):
        if not line.strip() or line.strip().startswith("#"):
            continue
        match = ASSIGNMENT.match(line)
        if match is None:
            raise ExpressionError(
                f"line {number}: script tasks may only contain lines of the form 'name = <expression>'"
            )
        compile_expression(match.group(2))
        pairs.append((match.group(1), match.group(2)))
    return pairs


class _Variables(Mapping[str, Any]):
    """Task data, then the external context, then the host's built-in variables (looked up lazily)."""

    def __init__(self, data: Mapping[str, Any], external: Mapping[str, Any], builtins: Builtins | None):
        self._data, self._external, self._builtins = data, external, builtins

    def __getitem__(self, name: str) -> Any:
        if name in self._data:
            return self._data[name]
        if name in self._external:
            return self._external[name]
        if self._builtins is not None:
            return self._builtins(name, self._data)
        raise KeyError(name)

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        return iter({**self._external, **self._data})

    def __len__(self) -> int:
        return len({**self._external, **self._data})


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates with runtime.expressions; never eval/exec."""

    def __init__(self, clock: Clock, builtins: Builtins | None = None, services: ServiceCall | None = None):
        super().__init__({})
        self.clock = clock
        self.builtins = builtins
        self.services = services

    def evaluate(self, expression: str, context: Mapping[str, Any], external_context: Any = None) -> Any:
        variables = _Variables(context, external_context or {}, self.builtins)
        return compile_expression(expression).evaluate(variables, clock=self.clock)

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        for name, source in script_assignments(script):
            context[name] = self.evaluate(source, context, external_context)
        return True

    def call_service(self, context: Any, **kwargs: Any) -> Any:  # pragma: no cover - the engine calls services
        """Service tasks go through SandboxScriptEngine.call_service (the action registry), never through here."""
        raise WorkflowError("service tasks run through the workflow host's actions, not the script environment")


class SandboxScriptEngine(PythonScriptEngine):
    """The script engine the host sets on every workflow it creates or loads."""

    def __init__(self, environment: SandboxEnvironment, process_id: str):
        super().__init__(environment=environment)
        self.process_id = process_id

    def validate(self, expression: str) -> None:
        compile_expression(expression)

    def _refused(self, task: Any, exc: Exception, what: str) -> WorkflowError:
        element = getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name
        return WorkflowError(f"{what} refused: {exc}", process_id=self.process_id, element_id=element)

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except ExpressionError as exc:
            raise self._refused(task, exc, f"the expression '{expression}'") from None

    def execute(self, task: Any, script: str, external_context: Any = None) -> bool:
        try:
            return self.environment.execute(script, task.data, external_context)
        except ExpressionError as exc:
            raise self._refused(task, exc, "the script") from None

    def call_service(self, task: Any, operation_name: str = "", operation_params: Any = None, **_: Any) -> str:
        """Runs a named runtime action; its error keeps its own message (SpiffWorkflow's says only 'NameError')."""
        params = {name: spec["value"] for name, spec in (operation_params or {}).items()}
        services = self.environment.services
        if services is None:
            raise WorkflowError("no actions are available here", process_id=self.process_id)
        try:
            return json.dumps(services(operation_name, params, task))
        except WorkflowError:
            raise
        except Exception as exc:
            element = getattr(task.task_spec, "bpmn_id", None)
            if hasattr(exc, "status") and hasattr(exc, "code"):  # a TesseraError: keep its class and status
                exc.message = f"process '{self.process_id}', element '{element}', action '{operation_name}': " + str(
                    getattr(exc, "message", exc)
                )
                exc.args = (exc.message,)
                raise
            raise WorkflowError(
                f"action '{operation_name}' failed: {exc}", process_id=self.process_id, element_id=element
            ) from exc
