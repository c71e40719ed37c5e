"""PL-17: a schema-driven fuzz run (schemathesis over our own OpenAPI document) finds no 500.

Both valid (positive) and invalid (negative) requests are generated for every operation the
OpenAPI document lists, including each entity's own paths, and sent over real HTTP with a
signed-in session. Any 5xx, or a response that is not our JSON error shape, fails the test.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from tests.conftest import ADMIN_PASSWORD

EXAMPLES = 40


def _session(server: str) -> Any:
    import requests

    session = requests.Session()
    r = session.post(f"{server}/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 200
    session.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return session


def _check(response: schemathesis.Response) -> None:
    assert response.status_code < 500, f"{response.request.method} {response.request.url}: {response.text[:500]}"
    content_type = response.headers.get("content-type", [""])
    if response.status_code >= 400 and content_type[0].startswith("application/json"):
        error = response.json()["error"]
        assert error["message"] and error["request_id"], response.text


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_pl17_fuzzing_the_api_finds_no_server_error(server: str, mode: GenerationMode) -> None:
    with httpx.Client(base_url=server) as client:
        client.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        client.post("/api/v1/records/region_office", json={"name": "East"})
    schema = schemathesis.openapi.from_url(f"{server}/api/v1/openapi.json")
    session = _session(server)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    tried = 0
    for operation in operations:
        if operation.path.startswith("/api/v1/auth/logout"):
            continue

        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: schemathesis.Case) -> None:
            _check(case.call(base_url=server, session=session))

        try:
            run()
        except Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE, f"no valid request could be generated for {operation.label}"
            continue  # an operation without inputs has no invalid variant
        tried += 1
    assert tried >= len(operations) // 2, f"only {tried} of {len(operations)} operations were fuzzed"
