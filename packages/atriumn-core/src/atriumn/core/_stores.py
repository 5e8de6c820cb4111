"""Where tokens are kept: in memory, in the OS keyring, or in a file readable only by the user.

The keyring (``keyring``, an optional dependency: ``atriumn-core[keyring]``, brought by ``atriumn-auth``) is
imported on first use. Machines without a desktop keyring — servers, CI, containers, WSL — have no working
backend; a :class:`KeyringTokenStore` then falls back to the store it was given (a :class:`FileTokenStore`
for signed-in sessions, as ``gh`` and the AWS CLI do), or to memory with one warning when it was given none.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ._errors import ConfigurationError
from ._tokens import AccessToken, TokenStore

__all__ = ["FileTokenStore", "KeyringTokenStore", "MemoryTokenStore", "default_credentials_path"]

logger = logging.getLogger("atriumn.core.credentials")


class MemoryTokenStore:
    """A process-local :class:`TokenStore`."""

    persistent = False

    def __init__(self) -> None:
        self._tokens: dict[str, AccessToken] = {}
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        """Where tokens are kept, for people."""
        return "memory (this process only)"

    def load(self, key: str) -> AccessToken | None:
        """The stored token for ``key``, or None."""
        with self._lock:
            return self._tokens.get(key)

    def save(self, key: str, token: AccessToken) -> None:
        """Store ``token`` under ``key``."""
        with self._lock:
            self._tokens[key] = token

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        with self._lock:
            self._tokens.pop(key, None)

    def __repr__(self) -> str:
        return f"MemoryTokenStore(<{len(self._tokens)} tokens>)"


def default_credentials_path(environ: Mapping[str, str] | None = None) -> Path:
    """The credentials file: ``ATRIUMN_CREDENTIALS_FILE``, else ``$XDG_CONFIG_HOME/atriumn/credentials.json``
    (``~/.config/...`` when unset; ``%APPDATA%\\atriumn\\credentials.json`` on Windows)."""
    env = os.environ if environ is None else environ
    explicit = env.get("ATRIUMN_CREDENTIALS_FILE", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32" and env.get("APPDATA"):
        return Path(env["APPDATA"]) / "atriumn" / "credentials.json"
    config = env.get("XDG_CONFIG_HOME", "").strip()
    base = Path(config).expanduser() if config else Path(env.get("HOME") or Path.home()) / ".config"
    return base / "atriumn" / "credentials.json"


class FileTokenStore:
    """A :class:`TokenStore` in a JSON file that only the user may read (mode 0600 in a 0700 folder).

    For machines without a desktop keyring. Writes are atomic (a temporary file renamed over the old one)
    and, on POSIX, serialised across processes with a lock on the folder, so two processes saving different
    profiles never lose one. A file that other users could read is tightened to 0600 when it is next written.

    Args:
        path: the file (default: :func:`default_credentials_path` — ``ATRIUMN_CREDENTIALS_FILE``, else the
            XDG config folder).
        service: a namespace inside the file (what the keyring calls the service).
        environ: the environment to read ``ATRIUMN_CREDENTIALS_FILE`` and ``XDG_CONFIG_HOME`` from.
    """

    persistent = True

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        service: str = "atriumn",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else default_credentials_path(environ)
        self.service = service
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        """Where tokens are kept, for people."""
        return f"file {self.path} (readable only by you)"

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigurationError(f"ATRIUMN_CREDENTIALS_FILE: cannot read {self.path}: {exc.strerror}") from None
        try:
            doc = json.loads(text)
        except ValueError:
            logger.warning("ignoring an unreadable credentials file", extra={"atriumn.path": str(self.path)})
            return {}
        return doc if isinstance(doc, dict) else {}

    def _entries(self, doc: dict[str, Any]) -> dict[str, Any]:
        services = doc.setdefault("services", {})
        return services.setdefault(self.service, {})  # type: ignore[no-any-return]

    def load(self, key: str) -> AccessToken | None:
        """The stored token for ``key``, or None (a corrupt entry reads as None)."""
        entry = self._read().get("services", {}).get(self.service, {}).get(key)
        if not isinstance(entry, dict):
            return None
        try:
            return AccessToken.from_json(json.dumps(entry))
        except (ValueError, TypeError):
            return None

    def save(self, key: str, token: AccessToken) -> None:
        """Store ``token`` under ``key``."""
        with self._locked():
            doc = self._read()
            self._entries(doc)[key] = json.loads(token.to_json())
            self._write(doc)

    def delete(self, key: str) -> None:
        """Forget ``key`` (the file is removed when nothing is left in it)."""
        with self._locked():
            doc = self._read()
            entries = self._entries(doc)
            if entries.pop(key, None) is None:
                return
            if not entries:
                doc["services"].pop(self.service, None)
            if doc.get("services"):
                self._write(doc)
            else:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                import fcntl
            except ImportError:  # Windows: the rename is still atomic
                yield
                return
            fd = os.open(self.path.parent, os.O_RDONLY)  # lock the folder: no lock file left behind
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def _write(self, doc: dict[str, Any]) -> None:
        doc["version"] = 1
        fd, tmp = tempfile.mkstemp(prefix=".credentials-", dir=self.path.parent)  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=2)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def __repr__(self) -> str:
        return f"FileTokenStore(path={str(self.path)!r})"


class KeyringTokenStore:
    """A :class:`TokenStore` in the OS keyring (``keyring``, imported on first use).

    When no keyring backend works (a server without a desktop session, or ``keyring`` not installed), tokens
    go to ``fallback`` instead — a :class:`FileTokenStore` keeps them across processes — or, when no fallback
    was given, to memory with one warning, so nothing fails because persistence is unavailable.

    Args:
        service: the keyring service name entries are stored under.
        fallback: where tokens go when the keyring does not work (default: memory, with a warning).
    """

    def __init__(self, service: str = "atriumn", *, fallback: TokenStore | None = None) -> None:
        self.service = service
        self._given_fallback = fallback
        self._fallback: TokenStore | None = None
        self._lock = threading.Lock()

    @property
    def persistent(self) -> bool:
        """Whether tokens survive this process (the keyring works, or the fallback is persistent)."""
        if self._backend() is not None:
            return True
        return bool(getattr(self._fallback, "persistent", False))

    @property
    def location(self) -> str:
        """Where tokens are kept, for people: the keyring backend's name, or the fallback's location."""
        kr = self._backend()
        if kr is not None:
            return f"OS keyring ({type(kr.get_keyring()).__name__}, service {self.service!r})"
        return str(getattr(self._fallback, "location", repr(self._fallback)))

    def _backend(self) -> Any:
        if self._fallback is not None:
            return None
        try:
            import keyring
            import keyring.backends.fail
            import keyring.errors

            backend = keyring.get_keyring()
            if isinstance(backend, keyring.backends.fail.Keyring) or backend.priority <= 0:
                raise keyring.errors.NoKeyringError(f"no usable keyring backend ({type(backend).__name__})")
        except Exception as exc:
            self._degrade(exc)
            return None
        return keyring

    def _degrade(self, exc: BaseException) -> None:
        with self._lock:
            if self._fallback is not None:
                return
            if self._given_fallback is not None:
                self._fallback = self._given_fallback
                logger.info(
                    "no working OS keyring (%s); tokens are kept in %s",
                    type(exc).__name__,
                    getattr(self._fallback, "location", self._fallback),
                )
                return
            self._fallback = MemoryTokenStore()
            warnings.warn(
                f"no working OS keyring ({type(exc).__name__}); tokens are kept in memory only "
                "and will not survive this process",
                RuntimeWarning,
                stacklevel=4,
            )

    def load(self, key: str) -> AccessToken | None:
        """The stored token for ``key``, or None (a corrupt entry reads as None)."""
        kr = self._backend()
        if kr is None:
            assert self._fallback is not None
            return self._fallback.load(key)
        try:
            text = kr.get_password(self.service, key)
        except Exception as exc:
            self._degrade(exc)
            return self.load(key)
        if text is None:
            return None
        try:
            return AccessToken.from_json(text)
        except (ValueError, TypeError):
            logger.warning("ignoring an unreadable keyring entry", extra={"atriumn.key": key})
            return None

    def save(self, key: str, token: AccessToken) -> None:
        """Store ``token`` under ``key``."""
        kr = self._backend()
        if kr is None:
            assert self._fallback is not None
            self._fallback.save(key, token)
            return
        try:
            kr.set_password(self.service, key, token.to_json())
        except Exception as exc:
            self._degrade(exc)
            self.save(key, token)

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        kr = self._backend()
        if kr is None:
            assert self._fallback is not None
            self._fallback.delete(key)
            return
        # An absent entry raises PasswordDeleteError: there is nothing to forget then.
        with contextlib.suppress(Exception):
            kr.delete_password(self.service, key)

    def __repr__(self) -> str:
        return f"KeyringTokenStore(service={self.service!r})"
