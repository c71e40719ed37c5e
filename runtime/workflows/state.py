"""The saved state of an instance: SpiffWorkflow's serialization without the process spec.

SpiffWorkflow's default serializer writes the whole parsed spec (every task spec, every expression) into
each instance's state and parses it back on every load; that is most of the cost of a step. An instance
row already names its spec (``spec_id``) and the host caches parsed specs by id, so the state keeps only
the task tree and data (``"spec": null``) and loading takes the cached spec objects. States written with
the spec inside (before this format) still load: the stored spec is used then.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG


class LeanWorkflowConverter(BpmnWorkflowConverter):
    """Writes the workflow without its spec; restores it with the spec objects the caller passes."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["spec"] = None
        dct["subprocess_specs"] = {}
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None) -> BpmnWorkflow:
        if dct.get("spec") is not None:  # an older state with the spec inside
            return super().from_dict(dct)
        if spec is None:
            raise LookupError("this workflow state does not hold its spec: load it through the workflow host")
        dct.pop("spec", None)
        dct.pop("subprocess_specs", None)
        workflow = self.target_class(spec, dict(subprocess_specs or {}), deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class StateCodec:
    """One serializer (its registry is costly to build) shared by every load and save of the host."""

    def __init__(self) -> None:
        config = dict(DEFAULT_CONFIG)
        config[BpmnWorkflow] = LeanWorkflowConverter
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
        self.registry = self.serializer.registry

    def dumps(self, workflow: BpmnWorkflow) -> str:
        return self.serializer.serialize_json(workflow)

    def loads(self, text: str, spec: Any, subprocess_specs: Any) -> BpmnWorkflow:
        dct = json.loads(text, cls=self.serializer.json_decoder_cls)
        self.serializer.migrate(dct)
        return self.serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
