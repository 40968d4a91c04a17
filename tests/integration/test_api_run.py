"""`bookit run` serves the HTTP API beside the link pages, on one port, and says where and
whether a token key is configured."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from servers import WorkerProcess, wait_until

from api_client import SECRET, free_port, token, wait_listening

Start = Callable[[str | None], tuple[WorkerProcess, str]]
AUTH = {"Authorization": f"Bearer {token('ann@example.com')}"}


@pytest.fixture
def run_bookit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Start]:
    started: list[WorkerProcess] = []

    def start(secret: str | None) -> tuple[WorkerProcess, str]:
        port = free_port()
        monkeypatch.setenv("BOOKIT_HTTP_PORT", str(port))
        if secret is None:
            monkeypatch.delenv("BOOKIT_API_SECRET", raising=False)
        else:
            monkeypatch.setenv("BOOKIT_API_SECRET", secret)
        args = ["--home", str(tmp_path / "home"), "run", "--every", "3600"]
        process = WorkerProcess(args, tmp_path / f"run{len(started)}.log").start()
        started.append(process)
        wait_listening(port, timeout=60)
        wait_until(lambda: "HTTP API on" in process.output(), "the API's address on stderr")
        return process, f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        process.stop()


def test_bookit_run_serves_the_api_and_says_so(run_bookit: Start) -> None:
    process, base = run_bookit(SECRET)
    assert f"HTTP API on {base}/api/ (tokens signed with HS256)" in process.output()
    with httpx.Client(base_url=base, headers=AUTH) as client:
        assert client.get("/api/venues").json() == []
        assert client.get("/api/openapi.json").json()["openapi"].startswith("3.")
        assert client.get("/l/not-a-token").status_code in (400, 404)  # the link pages, same port


def test_bookit_run_without_a_key_keeps_the_api_shut(run_bookit: Start) -> None:
    process, base = run_bookit(None)
    assert "no token key configured: every request answers 503" in process.output()
    answer = httpx.get(f"{base}/api/venues", headers=AUTH)
    assert (answer.status_code, answer.json()["code"]) == (503, "api_not_configured")
