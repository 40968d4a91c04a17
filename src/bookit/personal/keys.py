"""The key store: one random key per person, kept apart from the events (DESIGN rule 19).

A row holds the look-up hash of the person's address (HMAC-SHA256 under a key derived from the
master key), their random `person_id` and their own AES-256 key, wrapped (AES-GCM) by another
key derived from the master key with the `person_id` as associated data. Nothing else about the
person is here, and the address itself is nowhere: it is found again only by its hash.

Erasure deletes the row. With it go the key (so every value sealed under it reads `<erased>`)
and the hash (so the address is a stranger again: the same address later is a new person, and
no list of erased addresses is kept). On the embedded default the store is its own SQLite file,
`BOOKIT_HOME/keys.sqlite`, with a rollback journal and secure delete, so a deleted key is
overwritten in the file at commit. On PostgreSQL it is its own table, `bookit_person_keys`, in
the read models' database.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Column,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    exc,
    select,
)

from bookit.personal.master_key import (
    KEY_BYTES,
    MASTER_KEY_ENV,
    MASTER_KEY_FILE,
    MasterKey,
    MasterKeyError,
    load_master_key,
)

NONCE_BYTES = 12
CACHED_KEYS = 4096  # unwrapped keys kept in memory, least recently used dropped

_metadata = MetaData()
person_keys = Table(
    "bookit_person_keys",
    _metadata,
    Column("lookup", String(64), primary_key=True),
    Column("person_id", String(36), nullable=False, unique=True),
    Column("wrapped_key", LargeBinary, nullable=False),
)


# Built once: building a statement costs more than running it.
_PERSON_OF = select(person_keys.c.person_id).where(person_keys.c.lookup == bindparam("lookup"))
_KEY_OF = select(person_keys.c.wrapped_key).where(person_keys.c.person_id == bindparam("person_id"))


class KeyStore:
    """Find, make and destroy persons' keys. Thread-safe. Unwrapped keys and the persons of
    address hashes seen are kept in memory (at most CACHED_KEYS of each, least recently used
    dropped); `destroy` drops both here, and another process drops them when told (`forget`,
    on `person.erased`). Until then it can only fail to seal for the erased person, since
    their key is gone from the store for every process that has not cached it."""

    def __init__(self, engine: Engine, master: MasterKey) -> None:
        self.engine = engine
        self._lookup_key = master.derive("lookup-hmac")
        self._wrap = AESGCM(master.derive("person-key-wrap"))
        self._cache: OrderedDict[str, AESGCM] = OrderedDict()
        self._people: OrderedDict[str, str] = OrderedDict()  # address hash -> person_id
        self._hash_of: dict[str, str] = {}  # person_id -> address hash, to forget both
        self._lock = threading.Lock()
        _metadata.create_all(engine)

    def lookup(self, email: str) -> str:
        """The keyed hash an address is found by: the same address, the same hash, under this
        master key only."""
        return hmac.new(self._lookup_key, email.encode(), hashlib.sha256).hexdigest()

    def person_of(self, email: str) -> str | None:
        """The person with this address, or None: never seen, or erased."""
        lookup = self.lookup(email)
        with self._lock:
            known = self._people.get(lookup)
            if known is not None:
                self._people.move_to_end(lookup)
                return known
        with self.engine.connect() as conn:
            found = conn.execute(_PERSON_OF, {"lookup": lookup}).scalar()
        if found is None:
            return None  # not kept: the address may become a person in another process
        self._know(lookup, str(found))
        return str(found)

    def person_for(self, email: str) -> str:
        """The person with this address, made (a random id and a new key) on first sight."""
        found = self.person_of(email)
        if found is not None:
            return found
        person_id = str(uuid.uuid4())
        key = AESGCM.generate_key(bit_length=8 * KEY_BYTES)
        lookup = self.lookup(email)
        row = {
            "lookup": lookup,
            "person_id": person_id,
            "wrapped_key": self._wrapped(person_id, key),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(person_keys.insert(), row)
        except exc.IntegrityError:
            # Another process saw this address first, a moment ago: theirs is the person.
            again = self.person_of(email)
            if again is None:
                raise
            return again
        self._remember(person_id, AESGCM(key))
        self._know(lookup, person_id)
        return person_id

    def cipher_of(self, person_id: str) -> AESGCM | None:
        """The person's own AES-GCM key, or None once it is destroyed."""
        with self._lock:
            if person_id in self._cache:
                self._cache.move_to_end(person_id)
                return self._cache[person_id]
        with self.engine.connect() as conn:
            wrapped = conn.execute(_KEY_OF, {"person_id": person_id}).scalar()
        cipher = None if wrapped is None else AESGCM(self._unwrapped(person_id, bytes(wrapped)))
        if cipher is not None:
            self._remember(person_id, cipher)
        return cipher

    def destroy(self, person_id: str) -> bool:
        """Delete the person's key and look-up hash; False if there was none."""
        with self.engine.begin() as conn:
            gone = conn.execute(person_keys.delete().where(person_keys.c.person_id == person_id)).rowcount
        self.forget(person_id)
        return bool(gone)

    def forget(self, person_id: str) -> None:
        """Drop a cached key and address hash (another process destroyed them: person.erased
        said so)."""
        with self._lock:
            self._cache.pop(person_id, None)
            lookup = self._hash_of.pop(person_id, None)
            if lookup is not None:
                self._people.pop(lookup, None)

    def _know(self, lookup: str, person_id: str) -> None:
        with self._lock:
            self._people[lookup] = person_id
            self._people.move_to_end(lookup)
            self._hash_of[person_id] = lookup
            while len(self._people) > CACHED_KEYS:
                _, dropped = self._people.popitem(last=False)
                self._hash_of.pop(dropped, None)

    def _remember(self, person_id: str, cipher: AESGCM) -> None:
        with self._lock:
            self._cache[person_id] = cipher
            self._cache.move_to_end(person_id)
            while len(self._cache) > CACHED_KEYS:
                self._cache.popitem(last=False)

    def _wrapped(self, person_id: str, key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._wrap.encrypt(nonce, key, _wrap_context(person_id))

    def _unwrapped(self, person_id: str, wrapped: bytes) -> bytes:
        nonce, sealed = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
        try:
            return self._wrap.decrypt(nonce, sealed, _wrap_context(person_id))
        except InvalidTag:
            raise MasterKeyError(
                f"the master key does not open person {person_id}'s key: is {MASTER_KEY_ENV} (or "
                f"BOOKIT_HOME/{MASTER_KEY_FILE}) the one the key store was made with?"
            ) from None


def _wrap_context(person_id: str) -> bytes:
    return f"bookit/person-key/{person_id}".encode()


def key_store_url(home: Path, store: str) -> str:
    """Its own SQLite file beside the event store's, or the read models' PostgreSQL database."""
    if store == "sqlite":
        return f"sqlite:///{home / 'keys.sqlite'}"
    return "postgresql+psycopg://" + store.split("://", 1)[1]


def open_key_store(home: Path, store: str, env: dict[str, str] | None = None) -> KeyStore:
    url = key_store_url(home, store)
    if url.startswith("sqlite"):
        home.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return KeyStore(engine, load_master_key(home, store, env))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """A destroyed key must leave no copy in the files: no WAL (whose frames would keep the
    row until a checkpoint), a rollback journal deleted at commit, deleted rows zeroed."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=DELETE")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
