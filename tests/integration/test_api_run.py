"""`bookit run` serves the HTTP API beside the link pages, on one port, and says where and
whether a token key is configured."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from api_client import SECRET, free_port, token, wait_listening
from servers import WorkerProcess, wait_until, workers  # noqa: F401  (fixtures are used by name)


def _start(
    workers: Callable[..., WorkerProcess], monkeypatch: pytest.MonkeyPatch, home: Path, secret: str | None
) -> tuple[WorkerProcess, str]:
    port = free_port()
    monkeypatch.setenv("BOOKIT_HTTP_PORT", str(port))
    if secret is None:
        monkeypatch.delenv("BOOKIT_API_SECRET", raising=False)
    else:
        monkeypatch.setenv("BOOKIT_API_SECRET", secret)
    process = workers("--home", str(home))
    wait_listening(port, timeout=60)
    return process, f"http://127.0.0.1:{port}"


def test_bookit_run_serves_the_api_and_says_so(
    workers: Callable[..., WorkerProcess], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    process, base = _start(workers, monkeypatch, tmp_path / "home", SECRET)
    wait_until(lambda: "HTTP API on" in process.output(), "the API's address on stderr")
    assert f"HTTP API on {base}/api/ (tokens signed with HS256)" in process.output()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token('ann@example.com')}"}) as client:
        assert client.get("/api/venues").json() == []
        assert client.get("/api/openapi.json").json()["openapi"].startswith("3.")
        assert client.get("/l/not-a-token").status_code in (400, 404)  # the link pages, same port


def test_bookit_run_without_a_key_keeps_the_api_shut(
    workers: Callable[..., WorkerProcess], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    process, base = _start(workers, monkeypatch, tmp_path / "home", None)
    wait_until(lambda: "HTTP API on" in process.output(), "the API's address on stderr")
    assert "no token key configured: every request answers 503" in process.output()
    answer = httpx.get(f"{base}/api/venues", headers={"Authorization": f"Bearer {token('ann@example.com')}"})
    assert (answer.status_code, answer.json()["code"]) == (503, "api_not_configured")
