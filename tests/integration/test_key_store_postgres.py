"""The key store on PostgreSQL: its own table, shared by every process, and a destroyed key
gone from what `pg_dump` reads."""

from __future__ import annotations

import subprocess
from pathlib import Path

from servers import pg_store  # noqa: F401  (fixture)

from bookit.personal.cipher import ERASED, PersonCipher
from bookit.personal.keys import open_key_store

ENV = {"BOOKIT_MASTER_KEY": "22" * 32}
ANN = "ann.example@example.com"


def dump(store: str) -> bytes:
    return subprocess.run(["pg_dump", "--data-only", store], check=True, capture_output=True).stdout


def test_rule_19_keys_on_postgresql_live_in_their_own_table(tmp_path: Path, pg_store: str) -> None:  # noqa: F811
    here = open_key_store(tmp_path, pg_store, ENV)
    there = open_key_store(tmp_path, pg_store, ENV)  # another process, the same database
    ann = here.person_for(ANN)
    sealed = PersonCipher(here).seal(ann, "booking.booked", "Choir practice")
    assert there.person_of(ANN) == ann
    assert PersonCipher(there).open(ann, "booking.booked", sealed) == "Choir practice"
    assert not list(tmp_path.iterdir())  # no key file for a server store: the key is configured
    before = dump(pg_store)
    assert b"bookit_person_keys" in before and here.lookup(ANN).encode() in before
    assert ANN.encode() not in before
    assert here.destroy(ann) is True
    there.forget(ann)
    assert PersonCipher(there).open(ann, "booking.booked", sealed) == ERASED
    assert there.person_of(ANN) is None
    assert here.lookup(ANN).encode() not in dump(pg_store)
