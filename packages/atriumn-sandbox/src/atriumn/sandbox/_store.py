"""Persistence: one SQLite database (WAL) of JSON documents, plus blobs as files.

Every record is a JSON document in one table keyed by ``(kind, id)``, with its tenant and an insertion
sequence number (for stable pagination). The sandbox's data is small, so filters run in Python over a
tenant's documents; the point is durable, inspectable state, not query speed. Each thread gets its own
connection (``sqlite3`` connections are not shared across threads); calls are short and synchronous.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["Store", "now_iso"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    tenant_id TEXT,
    doc TEXT NOT NULL,
    UNIQUE (kind, id)
);
CREATE INDEX IF NOT EXISTS docs_tenant ON docs (kind, tenant_id, seq);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (scope, key)
);
"""


def now_iso() -> str:
    """The current UTC time as ISO 8601 with a ``Z`` suffix and millisecond precision."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Store:
    """The sandbox's database and blob directory under ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.blob_dir = data_dir / "blobs"
        self.tmp_dir = data_dir / "tmp"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._path = data_dir / "sandbox.sqlite3"
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        with self._conn() as conn:
            conn.executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=10.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    # -- documents ---------------------------------------------------------------------------------

    def put(self, kind: str, id: str, doc: dict[str, Any], *, tenant_id: str | None = None) -> None:
        """Insert or replace a document (its sequence number is kept on replace)."""
        self._conn().execute(
            "INSERT INTO docs (kind, id, tenant_id, doc) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc, tenant_id = excluded.tenant_id",
            (kind, id, tenant_id, json.dumps(doc)),
        )

    def get(self, kind: str, id: str, *, tenant_id: str | None = None) -> dict[str, Any] | None:
        """A document by id (and tenant, when given), else ``None``."""
        if tenant_id is None:
            row = self._conn().execute("SELECT doc FROM docs WHERE kind = ? AND id = ?", (kind, id)).fetchone()
        else:
            row = (
                self._conn()
                .execute("SELECT doc FROM docs WHERE kind = ? AND id = ? AND tenant_id = ?", (kind, id, tenant_id))
                .fetchone()
            )
        return None if row is None else dict(json.loads(row[0]))

    def find(self, kind: str, field: str, value: str) -> dict[str, Any] | None:
        """The first document of ``kind`` whose top-level ``field`` equals ``value``."""
        row = (
            self._conn()
            .execute(
                "SELECT doc FROM docs WHERE kind = ? AND json_extract(doc, ?) = ? ORDER BY seq LIMIT 1",
                (kind, f"$.{field}", value),
            )
            .fetchone()
        )
        return None if row is None else dict(json.loads(row[0]))

    def scan(self, kind: str, *, tenant_id: str | None = None, after: int = 0) -> list[tuple[int, dict[str, Any]]]:
        """``(seq, doc)`` of every document of ``kind`` (in a tenant) after sequence ``after``, in order."""
        if tenant_id is None:
            rows = self._conn().execute(
                "SELECT seq, doc FROM docs WHERE kind = ? AND seq > ? ORDER BY seq", (kind, after)
            )
        else:
            rows = self._conn().execute(
                "SELECT seq, doc FROM docs WHERE kind = ? AND tenant_id = ? AND seq > ? ORDER BY seq",
                (kind, tenant_id, after),
            )
        return [(seq, dict(json.loads(doc))) for seq, doc in rows.fetchall()]

    def delete(self, kind: str, id: str, *, tenant_id: str | None = None) -> bool:
        """Delete a document; whether it existed."""
        if tenant_id is None:
            cur = self._conn().execute("DELETE FROM docs WHERE kind = ? AND id = ?", (kind, id))
        else:
            cur = self._conn().execute(
                "DELETE FROM docs WHERE kind = ? AND id = ? AND tenant_id = ?", (kind, id, tenant_id)
            )
        return cur.rowcount > 0

    # -- outbox ------------------------------------------------------------------------------------

    def send_message(self, message: dict[str, Any]) -> None:
        """Record a message the sandbox "sent" (it has no email): readable at ``GET /_sandbox/outbox``."""
        self._conn().execute("INSERT INTO outbox (doc) VALUES (?)", (json.dumps(message),))

    def outbox(self) -> list[dict[str, Any]]:
        """Every message sent, oldest first."""
        rows = self._conn().execute("SELECT doc FROM outbox ORDER BY seq").fetchall()
        return [dict(json.loads(doc)) for (doc,) in rows]

    # -- idempotency -------------------------------------------------------------------------------

    def idempotent_get(self, scope: str, key: str) -> tuple[str, int, list[list[str]], bytes] | None:
        """The stored ``(fingerprint, status, headers, body)`` of a key, else ``None``."""
        row = (
            self._conn()
            .execute(
                "SELECT fingerprint, status, headers, body FROM idempotency WHERE scope = ? AND key = ?", (scope, key)
            )
            .fetchone()
        )
        if row is None:
            return None
        return row[0], row[1], json.loads(row[2]), bytes(row[3])

    def idempotent_put(
        self, scope: str, key: str, fingerprint: str, status: int, headers: list[list[str]], body: bytes
    ) -> None:
        """Remember the response to a key."""
        self._conn().execute(
            "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?, ?)",
            (scope, key, fingerprint, status, json.dumps(headers), body, time.time()),
        )

    # -- blobs -------------------------------------------------------------------------------------

    def blob_path(self, key: str) -> Path:
        """Where the blob of ``key`` lives (named by a hash: no key can escape the blob directory)."""
        return self.blob_dir / hashlib.sha256(key.encode()).hexdigest()
