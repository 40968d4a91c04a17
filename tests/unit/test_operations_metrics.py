"""The metric families of CONTRACT.md "Operations", counted where things happen, with labels
from fixed sets only (DESIGN rule 21); the exposition and the alert rules pass promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.errors import Refused
from bookit.observability import metrics
from bookit.observability.health import Readiness

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "bookit-alerts.yml"
FAMILIES = {
    "bookit_commands": "counter",
    "bookit_command_seconds": "histogram",
    "bookit_events_stored": "counter",
    "bookit_follower_lag_events": "gauge",
    "bookit_emails": "counter",
    "bookit_outbox_oldest_pending_seconds": "gauge",
    "bookit_timers_overdue": "gauge",
    "bookit_waitlist_offers_open": "gauge",
    "bookit_bus_messages": "counter",
}
# Which label values each label may take: fixed sets, never an id, a venue or a person.
FIXED = {
    "outcome": set(metrics.COMMAND_OUTCOMES) | set(metrics.EMAIL_OUTCOMES) | set(metrics.BUS_OUTCOMES),
    "follower": {"read_models", "mail", "events_out"},
}


def exposition(service: Any, bus_url: str = "local") -> str:
    return metrics.exposition(metrics.StoreFigures(Readiness(service, bus_url).check)).decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def story(driver: Any) -> None:
    venue = driver.venue()
    booking = driver.book("ann@example.com", venue, "2026-12-03", "14:00", "16:00", purpose="Ann's choir")
    with pytest.raises(Refused):  # the slot is taken
        driver.book("bob@example.com", venue, "2026-12-03", "14:00", "16:00")
    driver.join("bob@example.com", venue, "2026-12-03", "14:00", "16:00")
    driver.send(c.CancelBooking, actor="ann@example.com", booking_id=booking)  # bob is offered
    driver.send(c.GrantAdmin, actor=SYSTEM, email="admin@example.com")


def test_every_family_of_the_contract_is_exposed_with_its_type(driver: Any) -> None:
    story(driver)
    families = {f.name: f.type for f in text_string_to_metric_families(exposition(driver.service))}
    for name, kind in FAMILIES.items():
        assert families.get(name) == kind, (name, families.get(name))


def test_commands_are_counted_once_each_by_type_and_outcome(driver: Any) -> None:
    before = samples(exposition(driver.service))
    story(driver)
    after = samples(exposition(driver.service))

    def moved(command: str, outcome: str) -> float:
        key = ("bookit_commands_total", (("command", command), ("outcome", outcome)))
        return after.get(key, 0) - before.get(key, 0)

    assert moved("BookVenue", "ok") == 1
    assert moved("BookVenue", "refused") == 1
    assert moved("JoinWaitlist", "ok") == 1
    assert moved("CancelBooking", "ok") == 1
    assert moved("RegisterVenue", "ok") == 1
    stored = driver.service.app.recorder.max_notification_id()
    events = after[("bookit_events_stored_total", ())] - before.get(("bookit_events_stored_total", ()), 0)
    assert events == stored  # this test's service stored all of them
    assert after[("bookit_waitlist_offers_open", ())] == 1
    lag = {k: v for k, v in after.items() if k[0] == "bookit_follower_lag_events"}
    assert lag == {
        ("bookit_follower_lag_events", (("follower", "mail"),)): 0,
        ("bookit_follower_lag_events", (("follower", "read_models"),)): 0,
    }


def test_rule_21_metric_labels_come_from_fixed_sets_only(driver: Any) -> None:
    story(driver)
    kinds = set(__import__("bookit.adapters.mail.compose", fromlist=["KINDS"]).KINDS) | {"other"}
    commands = {cls.__name__ for cls in _all(c.Command)} | {"other"}
    text = exposition(driver.service)
    for (name, labels), _value in samples(text).items():
        for label, value in labels:
            if label == "le":
                continue
            allowed = {"command": commands, "kind": kinds | set(_timer_kinds())}.get(label, FIXED.get(label))
            assert allowed is not None, f"{name} has an unexpected label {label}"
            assert value in allowed, f"{name}{{{label}={value!r}}} is not from a fixed set"
    assert "example.com" not in text and "main-hall" not in text
    # Whatever is sent, a label takes only known values.
    assert metrics.command_label(object()) == "other"
    assert metrics.email_kind("ann@example.com") == "other"


def _all(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_all(direct))]


def _timer_kinds() -> tuple[str, ...]:
    from bookit.observability.figures import TIMER_KINDS

    return TIMER_KINDS


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert shutil.which("promtool"), "promtool is missing: `make promtool` installs Debian's prometheus"
    return subprocess.run(["promtool", *args], input=stdin, capture_output=True, text=True)


def test_the_exposition_passes_promtool_check_metrics(driver: Any) -> None:
    story(driver)
    checked = promtool("check", "metrics", stdin=exposition(driver.service))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_alert_rules_pass_promtool_check_rules_and_name_only_our_families() -> None:
    checked = promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = ALERTS.read_text()
    for family in ("bookit_ready", "bookit_follower_lag_events", "bookit_outbox_oldest_pending_seconds"):
        assert family in text
    assert "bookit_timers_overdue" in text and 'bookit_emails_total{outcome="refused"}' in text
