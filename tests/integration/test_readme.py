"""The README works when pasted: its shell blocks marked `<!-- readme-test: NAME -->` (the CLI
tour, then the HTTP walk through a real `bookit run` on a free port) are cut out of the markdown
and run, in order, in one bash, from the repository's folder, with nothing of this machine's
BOOKIT_ environment. A step that fails stops the run (`set -e`, `curl -f`), and so fails here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from api_client import free_port

ROOT = Path(__file__).resolve().parents[2]
MARKED = re.compile(r"<!-- readme-test: (\w+) -->\n```sh\n(.*?)```", re.S)


def blocks() -> dict[str, str]:
    return dict(MARKED.findall((ROOT / "README.md").read_text()))


def test_the_readmes_tour_and_http_walk_work_as_pasted(tmp_path: Path) -> None:
    found = blocks()
    assert list(found) == ["tour", "http"], list(found)
    script = "set -euo pipefail\n" + found["tour"] + found["http"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKIT_") and k != "VIRTUAL_ENV"}
    env |= {"BOOKIT_HTTP_PORT": str(free_port()), "TMPDIR": str(tmp_path)}
    assert Path(sys.executable).parent == ROOT / ".venv" / "bin", "run the tests from the repository's .venv"
    done = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    out = done.stdout
    assert done.returncode == 0, f"the README broke:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "venue main-hall registered" in out and "1 reminder sent" in out
    assert "1 unconfirmed booking auto-cancelled" in out and "claimed" in out
    assert "every invariant holds" in out and "read models match a fresh replay" in out
    claims = re.search(r"^claims\s+(\d+)\s+(\d+)\s+([+-]\d+)$", out, re.M)
    assert claims and claims.group(3) == "-1", out  # the what-if shows a real difference
    assert '"status":"cancelled"' in out and '"booking_id"' in out and '"seconds_left"' in out
