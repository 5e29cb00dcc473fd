"""A small QMP client (QEMU Machine Protocol) over a unix socket: commands, replies, events.

One JSON object per line in both directions. :meth:`QMP.command` sends ``{"execute": ...}`` and
returns the ``return`` value, keeping any events that arrive meanwhile, timestamped on arrival
(host ``time.monotonic()``, seconds) and with QEMU's own timestamp (``timestamp``: seconds and
microseconds, host wall clock). Leaves out: out-of-band commands, file-descriptor passing.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from runner.measure.errors import QMPError


@dataclass
class Event:
    """One QMP event.

    Attributes
    ----------
    name : str
        ``STOP``, ``RESUME``, ``MIGRATION``, ``MIGRATION_PASS``, ...
    data : dict
        The event's data.
    qemu_time : float
        QEMU's timestamp, seconds since the epoch (host wall clock).
    seen : float
        ``time.monotonic()`` when the client read it, seconds.
    """

    name: str
    data: dict[str, Any]
    qemu_time: float
    seen: float


@dataclass
class QMP:
    """A connected QMP session (after :meth:`connect`, capabilities negotiated).

    Parameters
    ----------
    path : str
        The unix socket of ``-qmp unix:PATH,server=on,wait=off``.
    name : str
        ``source`` or ``destination`` (for messages).
    """

    path: str
    name: str = "qemu"
    events: list[Event] = field(default_factory=list)
    greeting: dict[str, Any] = field(default_factory=dict)
    _sock: socket.socket | None = None
    _buf: bytes = b""

    def connect(self, timeout: float = 10.0) -> "QMP":
        """Connect (retrying until the socket exists), read the greeting, negotiate capabilities.

        Raises
        ------
        QMPError
            If QEMU does not answer within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(max(0.1, deadline - time.monotonic()))
                s.connect(self.path)
                break
            except OSError as exc:
                s.close()
                if time.monotonic() >= deadline:
                    raise QMPError(f"QMP of the {self.name} QEMU ({self.path}) did not open within "
                                   f"{timeout:g} s: {exc}") from None
                time.sleep(0.05)
        self._sock = s
        self.greeting = self._read_message(deadline)
        if "QMP" not in self.greeting:
            raise QMPError(f"{self.name} QEMU: not a QMP greeting: {self.greeting!r}")
        self.command("qmp_capabilities", timeout=max(0.5, deadline - time.monotonic()))
        return self

    def close(self) -> None:
        """Close the socket (QEMU keeps running)."""
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    # ------------------------------------------------------------------ wire
    def _read_message(self, deadline: float) -> dict[str, Any]:
        """The next JSON object from QEMU (blocking until ``deadline``, monotonic seconds)."""
        assert self._sock is not None
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise QMPError(f"{self.name} QEMU: no QMP answer in time")
            self._sock.settimeout(left)
            try:
                chunk = self._sock.recv(65536)
            except socket.timeout:
                raise QMPError(f"{self.name} QEMU: no QMP answer in time") from None
            except OSError as exc:
                raise QMPError(f"{self.name} QEMU: QMP connection failed: {exc}") from None
            if not chunk:
                raise QMPError(f"{self.name} QEMU closed its QMP connection (did it exit?)")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            msg = json.loads(line)
        except ValueError:
            raise QMPError(f"{self.name} QEMU: QMP sent invalid JSON: {line[:200]!r}") from None
        if not isinstance(msg, dict):
            raise QMPError(f"{self.name} QEMU: QMP sent {msg!r}")
        return msg

    def _keep_event(self, msg: dict[str, Any]) -> None:
        ts = msg.get("timestamp", {})
        qt = float(ts.get("seconds", 0)) + float(ts.get("microseconds", 0)) / 1e6
        self.events.append(Event(msg["event"], msg.get("data", {}), qt, time.monotonic()))

    def command(self, name: str, timeout: float = 5.0, **arguments: Any) -> Any:
        """Execute one command and return its ``return`` value.

        Raises
        ------
        QMPError
            On an ``error`` answer, a closed connection or no answer within ``timeout`` s.
        """
        if self._sock is None:
            raise QMPError(f"{self.name} QEMU: QMP not connected")
        msg: dict[str, Any] = {"execute": name}
        if arguments:
            msg["arguments"] = {k.replace("_", "-"): v for k, v in arguments.items()}
        try:
            self._sock.sendall(json.dumps(msg).encode() + b"\n")
        except OSError as exc:
            raise QMPError(f"{self.name} QEMU: QMP send failed ({name}): {exc}") from None
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if "event" in answer:
                self._keep_event(answer)
                continue
            if "error" in answer:
                err = answer["error"]
                raise QMPError(f"{self.name} QEMU: {name} failed: {err.get('desc', err)}")
            if "return" in answer:
                return answer["return"]

    def poll_events(self) -> list[Event]:
        """Read the events already waiting on the socket (no blocking); return the new ones."""
        if self._sock is None:
            return []
        n = len(self.events)
        self._sock.setblocking(False)
        try:
            while True:
                try:
                    chunk = self._sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                if not chunk:
                    break
                self._buf += chunk
        finally:
            self._sock.setblocking(True)
        while b"\n" in self._buf:
            msg = self._read_message(time.monotonic() + 1.0)
            if "event" in msg:
                self._keep_event(msg)
        return self.events[n:]

    def first(self, name: str, **match: Any) -> Event | None:
        """The first kept event called ``name`` whose data contain ``match``."""
        for e in self.events:
            if e.name == name and all(e.data.get(k) == v for k, v in match.items()):
                return e
        return None


def socket_path_ok(path: str) -> bool:
    """True when ``path`` fits a unix socket address (108 bytes on Linux)."""
    return len(os.fsencode(path)) < 108
