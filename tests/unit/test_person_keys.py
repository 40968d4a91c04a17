"""The key store and cipher of DESIGN rule 19, on the embedded default's own SQLite file."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import event

from bookit.personal.cipher import ERASED, NotSealed, PersonCipher
from bookit.personal.keys import KeyStore, open_key_store, person_keys
from bookit.personal.master_key import FILE_NOTE, MasterKeyError, load_master_key, parse_master_key

ANN = "ann.example@example.com"
KEY_HEX = "11" * 32


def keys_in(home: Path, env: dict[str, str] | None = None) -> KeyStore:
    return open_key_store(home, "sqlite", {} if env is None else env)


def test_rule_19_master_key_file_is_made_once_with_a_note_to_back_it_up(tmp_path: Path) -> None:
    first = load_master_key(tmp_path, "sqlite", {})
    path = tmp_path / "master-key"
    lines = path.read_text().splitlines()
    assert lines[0] == FILE_NOTE and "Back this file up apart" in lines[0]
    assert len(lines) == 2 and len(bytes.fromhex(lines[1])) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_master_key(tmp_path, "sqlite", {}) == first  # the same key on every later run
    assert [p.name for p in tmp_path.iterdir()] == ["master-key"]  # no draft left beside it


def test_master_key_from_the_environment_wins_and_is_checked(tmp_path: Path) -> None:
    configured = load_master_key(tmp_path, "sqlite", {"BOOKIT_MASTER_KEY": KEY_HEX})
    assert configured.secret == bytes(32 * [0x11]) and not (tmp_path / "master-key").exists()
    assert parse_master_key("ERERERERERERERERERERERERERERERERERERERERERE") == configured  # base64
    for bad in ("abc", "zz" * 32, "11" * 31):
        with pytest.raises(MasterKeyError, match="BOOKIT_MASTER_KEY must be 32 random bytes"):
            load_master_key(tmp_path, "sqlite", {"BOOKIT_MASTER_KEY": bad})
    with pytest.raises(MasterKeyError, match="BOOKIT_MASTER_KEY is not set"):
        load_master_key(tmp_path, "postgresql://postgres@127.0.0.1/x", {})


def test_rule_19_a_person_is_a_random_id_found_again_by_a_keyed_hash(tmp_path: Path) -> None:
    keys = keys_in(tmp_path / "a")
    ann = keys.person_for(ANN)
    assert keys.person_for(ANN) == ann == keys.person_of(ANN)
    assert keys.person_for("bob@example.com") != ann
    assert keys.person_of("carol@example.com") is None
    # Random, never derived from the address: the same address and master key elsewhere is
    # another person; the look-up hash depends on the master key.
    same_master = keys_in(tmp_path / "b", {"BOOKIT_MASTER_KEY": KEY_HEX})
    other_master = keys_in(tmp_path / "c")
    assert same_master.person_for(ANN) != ann
    assert same_master.lookup(ANN) != other_master.lookup(ANN) != keys.lookup(ANN)
    with keys.engine.connect() as conn:
        rows = conn.execute(person_keys.select()).all()
    assert len(rows) == 2 and all(ANN not in str(row) for row in rows)


def test_rule_19_values_open_only_for_their_person_and_event_type(tmp_path: Path) -> None:
    keys = keys_in(tmp_path)
    cipher = PersonCipher(keys)
    ann, bob = keys.person_for(ANN), keys.person_for("bob@example.com")
    sealed = cipher.seal(ann, "booking.booked", "Choir practice")
    assert "Choir" not in sealed and sealed != cipher.seal(ann, "booking.booked", "Choir practice")
    assert cipher.open(ann, "booking.booked", sealed) == "Choir practice"
    assert cipher.open(ann, "booking.booked", cipher.seal(ann, "booking.booked", "")) == ""
    for person, event_type in ((bob, "booking.booked"), (ann, "booking.cancelled")):
        with pytest.raises(NotSealed, match="does not open under their key"):
            cipher.open(person, event_type, sealed)
    altered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(NotSealed):
        cipher.open(ann, "booking.booked", altered)
    with pytest.raises(NotSealed, match="is not sealed"):
        cipher.open(ann, "booking.booked", "Choir practice")


def test_rule_19_a_destroyed_key_opens_as_erased_and_the_address_is_a_stranger(tmp_path: Path) -> None:
    keys = keys_in(tmp_path)
    cipher = PersonCipher(keys)
    ann = keys.person_for(ANN)
    sealed = cipher.seal(ann, "booking.booked", "Choir practice")
    with keys.engine.connect() as conn:
        wrapped = bytes(conn.execute(person_keys.select()).one().wrapped_key)
    assert keys.destroy(ann) is True
    assert cipher.open(ann, "booking.booked", sealed) == ERASED
    assert keys.person_of(ANN) is None and keys.destroy(ann) is False
    assert keys.person_for(ANN) != ann  # the same address again is a new person
    with pytest.raises(LookupError, match="erased"):
        cipher.seal(ann, "booking.booked", "more")
    # Deleted with secure delete and no WAL: the file holds neither the key nor its hash.
    files = b"".join(p.read_bytes() for p in tmp_path.glob("keys.sqlite*"))
    assert wrapped not in files and keys_in(tmp_path).lookup(ANN).encode() in files  # the new one
    keys.destroy(keys.person_for(ANN))
    files = b"".join(p.read_bytes() for p in tmp_path.glob("keys.sqlite*"))
    assert keys.lookup(ANN).encode() not in files


def test_another_process_sees_the_same_keys_and_forgets_a_destroyed_one(tmp_path: Path) -> None:
    here, there = keys_in(tmp_path), keys_in(tmp_path)
    ann = here.person_for(ANN)
    sealed = PersonCipher(here).seal(ann, "booking.booked", "Choir")
    assert there.person_of(ANN) == ann
    assert PersonCipher(there).open(ann, "booking.booked", sealed) == "Choir"
    here.destroy(ann)
    there.forget(ann)  # as person.erased tells every process
    assert PersonCipher(there).open(ann, "booking.booked", sealed) == ERASED


def test_a_wrong_master_key_is_named_not_taken_for_an_erasure(tmp_path: Path) -> None:
    ann = keys_in(tmp_path).person_for(ANN)
    wrong = keys_in(tmp_path, {"BOOKIT_MASTER_KEY": KEY_HEX})
    with pytest.raises(MasterKeyError, match="the master key does not open person"):
        wrong.cipher_of(ann)


def test_two_threads_meeting_a_new_address_at_once_make_one_person(tmp_path: Path) -> None:
    stores = [keys_in(tmp_path) for _ in range(4)]
    found: list[str] = []
    threads = [threading.Thread(target=lambda s=s: found.append(s.person_for(ANN))) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1 and len(found) == 4


def test_a_seen_address_is_answered_from_memory_until_its_person_is_forgotten(tmp_path: Path) -> None:
    here, there = keys_in(tmp_path), keys_in(tmp_path)
    queries: list[str] = []
    event.listen(here.engine, "before_cursor_execute", lambda *args: queries.append(args[2]))
    ann = here.person_for(ANN)
    queries.clear()
    assert [here.person_of(ANN) for _ in range(3)] == [ann] * 3 and queries == []
    assert here.person_of("bob@example.com") is None and len(queries) == 1  # a stranger: asked
    there.destroy(ann)  # in another process
    assert here.person_of(ANN) == ann  # still remembered here ...
    here.forget(ann)  # ... until person.erased reaches this process
    assert here.person_of(ANN) is None
    again = there.person_for(ANN)
    assert here.person_of(ANN) == again != ann
    here.destroy(again)
    assert here.person_of(ANN) is None and there.person_of(ANN) == again  # there: not yet told
