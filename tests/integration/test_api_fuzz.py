"""schemathesis, a foreign fuzzer, against the OpenAPI document the running server serves: every
operation, positive and negative data, then stateful sequences. Zero server errors and zero
responses that break the spec (status codes, content types, headers, body schemas).

Bounded by default (BOOKIT_FUZZ_EXAMPLES examples per operation, 15); a long run:
`BOOKIT_FUZZ_EXAMPLES=500 .venv/bin/pytest tests/integration/test_api_fuzz.py -s`.
The closing line says how many requests were tried (counted from the fuzzer's own HAR record).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from api_client import api_server, token
from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)
ADMIN = "admin@example.com"


def test_schemathesis_finds_no_server_error_and_no_spec_violation(service: Service, tmp_path: Path) -> None:
    examples = int(os.environ.get("BOOKIT_FUZZ_EXAMPLES", "15"))
    service.bus.handle(c.GrantAdmin(actor=SYSTEM, email=ADMIN))
    service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))
    report, har = tmp_path / "report.json", tmp_path / "requests.har"
    with api_server(service) as base:
        done = subprocess.run(
            [
                SCHEMATHESIS,
                "run",
                f"{base}/api/openapi.json",
                "--header",
                f"Authorization: Bearer {token(ADMIN, lifetime=4 * 3600)}",
                "--checks",
                CHECKS,
                "--max-examples",
                str(examples),
                "--seed",
                os.environ.get("BOOKIT_FUZZ_SEED", "10"),
                "--workers",
                "1",
                "--generation-database",
                "none",
                "--no-color",
                "--report",
                "json,har",
                "--report-json-path",
                str(report),
                "--report-har-path",
                str(har),
            ],
            capture_output=True,
            text=True,
            timeout=1200,
            cwd=tmp_path,
        )
    summary = json.loads(report.read_text())
    requests = len(json.loads(har.read_text())["log"]["entries"])
    statuses = sorted({e["response"]["status"] for e in json.loads(har.read_text())["log"]["entries"]})
    followed = [line.strip() for line in done.stdout.splitlines() if "API Links" in line]
    print(f"\nschemathesis: {requests} requests, statuses {statuses}, {summary['test_cases']}, {followed}")
    assert done.returncode == 0, done.stdout[-5000:]
    assert summary["failures"] == [] and summary["errors"] == []
    assert summary["operations"]["tested"] == summary["operations"]["total"] >= 16
    assert 500 not in statuses
    assert requests >= summary["operations"]["total"] * examples
