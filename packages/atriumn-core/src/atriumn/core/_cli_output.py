"""What the ``atriumn`` command writes: data (text or ``--json``), notes, and progress for long waits.

Progress is for people: it is drawn on stderr only when stderr is a terminal and ``--json`` is off — never on a
pipe, in a log file or for a script. ``rich`` draws it when installed; otherwise a plain one-line indicator
(a spinner with the elapsed time, or done / total with a percentage) rewrites itself with ``\\r``. A wait that
ends within about a second draws nothing.
"""

from __future__ import annotations

import contextlib
import decimal
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

__all__ = ["Output", "format_money", "jsonable", "render"]

_SPINNER = "|/-\\"


def format_money(amount: float | decimal.Decimal | None) -> str:
    """A cost for people: ``$0.000002``, ``$0.0123``, ``$1.25`` (never ``2.0000000000000003e-06``)."""
    if amount is None:
        return "-"
    value = _exact(amount)
    if value == 0:
        return "$0.00"
    if abs(value) >= 1:
        return f"${value:.2f}"
    digits = min(8, max(2, -value.adjusted() + 2))  # two significant digits, at most 8 decimals
    text = f"{value:.{digits}f}"
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents[:2]}{cents[2:].rstrip('0')}"


def _exact(amount: Any) -> decimal.Decimal:
    """An amount as a decimal, rounded to a millionth of a cent (float noise such as 2.0000000000000003e-06 gone)."""
    return decimal.Decimal(str(amount)).quantize(decimal.Decimal("1e-12")).normalize()


def _money_string(amount: Any) -> str:
    """A cost in JSON: an exact decimal string."""
    return format(_exact(amount), "f")


def jsonable(value: Any) -> Any:
    """``value`` as JSON-ready data (attrs models unstructured; amounts of money — keys with ``cost`` or ending in
    ``_usd`` — as exact decimal strings)."""
    import attrs

    if attrs.has(type(value)):
        from ._serde import unstructure

        return jsonable(unstructure(value, "snake"))
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {
            k: _money_string(v) if isinstance(v, float) and _is_money_key(k) else jsonable(v) for k, v in value.items()
        }
    if isinstance(value, decimal.Decimal):
        return _money_string(value)
    return value


def _is_money_key(key: Any) -> bool:
    return isinstance(key, str) and ("cost" in key or key.endswith("_usd"))


def render(value: Any, indent: str = "") -> str:
    """A generic human rendering of JSON-ready data: aligned ``key  value`` lines, nested blocks indented."""
    if isinstance(value, dict):
        if not value:
            return indent + "(empty)"
        width = max(len(str(k)) for k in value)
        lines = []
        for k, v in value.items():
            if isinstance(v, dict | list) and v:
                lines.append(f"{indent}{k}:")
                lines.append(render(v, indent + "  "))
            else:
                lines.append(f"{indent}{str(k).ljust(width)}  {v}")
        return "\n".join(lines)
    if isinstance(value, list):
        if not value:
            return indent + "(none)"
        return "\n".join(
            render(v, indent) + ("\n" if isinstance(v, dict) and i < len(value) - 1 else "")
            for i, v in enumerate(value)
        )
    return f"{indent}{value}"


class _Indicator:
    """A one-line indicator on a terminal, redrawn by a background thread until stopped."""

    def __init__(self, stream: TextIO, label: Callable[[float], str], delay: float) -> None:
        self._stream = stream
        self._label = label
        self._delay = delay
        self._stop = threading.Event()
        self._drawn = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="atriumn-progress", daemon=True)
        self._start = time.monotonic()
        self._thread.start()

    def _run(self) -> None:
        if self._stop.wait(self._delay):
            return
        frame = 0
        while not self._stop.is_set():
            self.draw(f"{_SPINNER[frame % len(_SPINNER)]} {self._label(time.monotonic() - self._start)}")
            frame += 1
            self._stop.wait(0.1)

    def draw(self, line: str) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self._stream.write("\r" + line[:200] + "\x1b[K")
            self._stream.flush()
            self._drawn = True

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            if self._drawn:
                self._stream.write("\r\x1b[K")
                self._stream.flush()
                self._drawn = False
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=1)


class Output:
    """Where a subcommand writes: human text by default, JSON with ``--json``; progress on a terminal.

    Args:
        json_mode: print machine-readable JSON (``--json``).
        stdout, stderr: the streams (default ``sys.stdout`` / ``sys.stderr``).
        interactive: whether stderr is a person's terminal (progress is drawn); default: ``stderr.isatty()``.
    """

    def __init__(
        self,
        *,
        json_mode: bool,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        interactive: bool | None = None,
    ) -> None:
        self.json_mode = json_mode
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        if interactive is None:
            interactive = bool(getattr(self.stderr, "isatty", lambda: False)())
        self.interactive = interactive and not json_mode
        self._indicator: _Indicator | None = None

    # --- data ------------------------------------------------------------------------------------------

    def data(self, value: Any, human: Callable[[Any], str] | str | None = None) -> None:
        """Print ``value``: as JSON with ``--json``, else ``human(value)`` (or a generic rendering)."""
        self.stop_progress()
        if self.json_mode:
            self.stdout.write(json.dumps(jsonable(value), indent=2, ensure_ascii=False, default=str) + "\n")
        elif callable(human):
            self.stdout.write(human(value).rstrip("\n") + "\n")
        elif isinstance(human, str):
            self.stdout.write(human.rstrip("\n") + "\n")
        else:
            self.stdout.write(render(jsonable(value)) + "\n")
        self.stdout.flush()

    def text(self, line: str = "", *, end: str = "\n") -> None:
        """Print human-only text (suppressed in ``--json`` mode)."""
        if not self.json_mode:
            self.stop_progress()
            self.stdout.write(line + end)
            self.stdout.flush()

    def note(self, line: str) -> None:
        """Print a message for the human on stderr (kept out of ``--json`` output)."""
        self.stop_progress()
        self.stderr.write(line + "\n")
        self.stderr.flush()

    # --- progress --------------------------------------------------------------------------------------

    def stop_progress(self) -> None:
        """Clear a drawn indicator (any output does this first)."""
        indicator, self._indicator = self._indicator, None
        if indicator is not None:
            indicator.stop()

    @contextlib.contextmanager
    def busy(self, what: str, *, delay: float = 1.0) -> Iterator[None]:
        """A spinner with the elapsed time (``waiting for api.example.com… 3s``) when a wait lasts longer than
        ``delay`` seconds; nothing on a pipe or with ``--json``."""
        if not self.interactive:
            yield
            return
        self.stop_progress()
        self._indicator = _Indicator(self.stderr, lambda elapsed: f"{what} {elapsed:.0f}s", delay)
        try:
            yield
        finally:
            self.stop_progress()

    @contextlib.contextmanager
    def progress(self, description: str, *, unit: str = "items") -> Iterator[Callable[[int, int | None], None]]:
        """A progress bar: yields ``update(done, total)`` (``total`` None when unknown). ``rich`` draws it when
        installed; otherwise one plain line (``uploading a.bin 45% 12.0 / 26.7 MiB 3s``). Nothing is drawn on a
        pipe or with ``--json``: ``update`` is then a no-op."""
        if not self.interactive:
            yield _no_progress
            return
        self.stop_progress()
        try:
            import rich.progress  # noqa: F401 - probe only
        except ImportError:
            yield from self._plain_progress(description, unit)
            return
        yield from self._rich_progress(description, unit)

    def _plain_progress(self, description: str, unit: str) -> Iterator[Callable[[int, int | None], None]]:
        state: dict[str, Any] = {"done": 0, "total": None}

        def label(elapsed: float) -> str:
            done, total = state["done"], state["total"]
            amount = _amount(done, unit) + (f" / {_amount(total, unit)}" if total else "")
            percent = f" {100 * done // total}%" if total else ""
            return f"{description}{percent} {amount} {elapsed:.0f}s"

        self._indicator = _Indicator(self.stderr, label, delay=0.0)

        def update(done: int, total: int | None = None) -> None:
            state["done"], state["total"] = done, total

        try:
            yield update
        finally:
            self.stop_progress()

    def _rich_progress(self, description: str, unit: str) -> Iterator[Callable[[int, int | None], None]]:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        amount = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
        columns = ("{task.description}", BarColumn(), amount, TimeElapsedColumn())
        with Progress(*columns, console=Console(file=self.stderr), transient=True) as bar:
            task = bar.add_task(description, total=None)

            def update(done: int, total: int | None = None) -> None:
                bar.update(task, completed=done, total=total)

            yield update


def _no_progress(done: int, total: int | None = None) -> None:
    """Progress nobody sees."""


def _amount(value: int, unit: str) -> str:
    if unit != "bytes":
        return f"{value} {unit}"
    size = float(value)
    for suffix in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or suffix == "GiB":
            return f"{size:.1f} {suffix}" if suffix != "B" else f"{int(size)} B"
        size /= 1024
    return f"{value} B"  # pragma: no cover
