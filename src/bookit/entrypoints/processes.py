"""`bookit run --bus URL --processes N`: one followers process and N-1 command workers.

The children are `bookit run --followers-only` and `bookit run --commands-only` on the same
home, store, bus and clock as this process (passed in their environment). The followers process
serves the link pages and the HTTP API; the command workers do not (one port per host).

SIGINT or SIGTERM stops them together. A child that exits on its own is reported (which one,
its pid, its exit status) and the others are stopped too, and this process exits 1: a supervisor
(systemd, a container runtime) starts the whole set again, and nothing is lost meanwhile (the
commands stay queued or are answered from their receipts; the followers start where their
tracked positions are).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

STOP_WAIT = 20.0  # seconds a child has to stop after SIGTERM before it is killed
CHILD = "import sys; from bookit.entrypoints.cli import main; sys.exit(main(prog_name='bookit'))"
PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]


def child_commands(count: int, every: float, follow_wait: float) -> list[tuple[str, list[str]]]:
    """(name, arguments of `bookit run`) for each child of `--processes count`."""
    common = ["--every", repr(every)]
    followers = ("followers", [*common, "--followers-only"])
    workers = [
        (f"command worker {n}", [*common, "--commands-only", "--no-http", "--follow-wait", repr(follow_wait)])
        for n in range(1, count)
    ]
    return [followers, *workers]


def run_processes(
    env: Mapping[str, str], commands: list[tuple[str, list[str]]], stop: threading.Event
) -> int:
    """Start the children, wait for `stop` or for one to exit, stop the rest; the exit status."""
    children = [
        Child(name, _start([sys.executable, "-c", CHILD, "run", *args], env)) for name, args in commands
    ]
    for child in children:
        log.info("started the %s (pid %d)", child.name, child.proc.pid)
    status = 0
    try:
        while not stop.wait(0.2):
            dead = [child for child in children if child.proc.poll() is not None]
            if dead:
                for child in dead:
                    log.error(
                        "the %s (pid %d) exited with %s; stopping the others",
                        child.name,
                        child.proc.pid,
                        _status(child.proc.returncode),
                    )
                status = 1
                break
    finally:
        _stop_all(children)
    return status


def _start(argv: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=dict(env), preexec_fn=_die_with_parent)  # noqa: PLW1509


def _die_with_parent() -> None:
    """In the child, before it runs: the kernel sends it SIGTERM if this process dies (Linux),
    so a killed parent leaves no workers behind."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop_all(children: list[Child]) -> None:
    for child in children:
        if child.proc.poll() is None:
            child.proc.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.proc.wait(timeout=STOP_WAIT)
        except subprocess.TimeoutExpired:
            log.error("the %s (pid %d) did not stop in %.0fs; killed", child.name, child.proc.pid, STOP_WAIT)
            child.proc.kill()
            child.proc.wait()


def _status(code: int) -> str:
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"status {code}"


def child_env(home: str, store: str, bus_url: str, now: str | None) -> dict[str, str]:
    """This process's environment with its global options, for the children."""
    env = dict(os.environ) | {"BOOKIT_HOME": home, "BOOKIT_STORE": store, "BOOKIT_BUS": bus_url}
    if now is not None:
        env["BOOKIT_NOW"] = now
    else:
        env.pop("BOOKIT_NOW", None)
    return env
