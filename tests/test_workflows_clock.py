"""PL-14: workflow timers read Tessera's clock (runtime/workflows/clocked.py patches SpiffWorkflow 3.2 internals).

These tests fail loudly when a SpiffWorkflow upgrade changes what the patch relies on: the version pin, the
timer module's use of ``datetime.now``, and the behaviour itself (a timer's due time and firing follow a
FixedClock, not the wall clock). No database is involved.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from SpiffWorkflow.bpmn.specs.event_definitions import timer as timer_module
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from runtime.clock import FixedClock
from runtime.workflows import clocked
from runtime.workflows.clocked import engine_clock, verify_patch
from runtime.workflows.specs import parse_bpmn

TIMER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://t">
  <bpmn:process id="wait_an_hour" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="hour"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="hour"/>
    <bpmn:sequenceFlow id="f2" sourceRef="hour" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""
T0 = datetime(2020, 1, 1, 8, 0)  # far from the wall clock: a timer on real time would be long due


def test_pl14_the_patched_spiffworkflow_internals_are_the_pinned_ones() -> None:
    verify_patch()  # raises RuntimeError naming what changed
    assert timer_module.datetime is clocked._ClockedDatetime


def test_pl14_verify_patch_fails_loudly_when_the_version_differs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clocked, "version", lambda _name: "4.0.0")
    with pytest.raises(RuntimeError, match="4.0.0 is installed"):
        verify_patch()


def test_pl14_a_timer_is_due_and_fires_on_the_bound_clock_not_the_wall_clock() -> None:
    parsed = parse_bpmn(TIMER, "timer.bpmn")["wait_an_hour"]
    wf = BpmnWorkflow(parsed.spec, parsed.subprocesses)
    clock = FixedClock(T0)
    with engine_clock(clock):
        wf.do_engine_steps()
        [waiting] = wf.waiting_events()
        due = datetime.fromisoformat(waiting.value).replace(tzinfo=None)
        assert due == T0 + timedelta(hours=1)
        clock.advance(minutes=59)
        wf.refresh_timers()
        wf.do_engine_steps()
        assert not wf.completed  # a wall-clock "now" (years later) would have fired it
        clock.advance(minutes=2)
        wf.refresh_timers()
        wf.do_engine_steps()
        assert wf.completed
    assert timer_module.datetime.now().year >= 2026  # outside an engine call: the real time
