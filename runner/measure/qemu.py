"""QEMU processes, free ports and ``tc`` shaping on loopback: the environment of a measured run.

:func:`check_environment` finds what the harness needs and fails with one line naming what is
missing and how to get it. :class:`QemuProcess` starts one QEMU (own process group, killed when the
harness dies: ``PR_SET_PDEATHSIG``) and always reaps it. :class:`ShapedLink` puts an htb class with
a filter on the migration port on ``lo`` and always removes it (a stale one left by a killed harness
is recognised by its handle and removed first). Leaves out: KVM, remote hosts, shaping anything but
loopback.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from runner.measure.errors import MeasureEnvironmentError, MeasureRunError

QEMU_BINARY = "qemu-system-x86_64"
#: The handle of migsim's root qdisc on lo (a stale one with this handle is ours to remove).
TC_HANDLE = "1a11"
APT_HINT = "install it with: apt-get install -y"


@dataclass(frozen=True)
class Tools:
    """Paths of the programs the harness runs.

    Attributes
    ----------
    qemu : str
        ``qemu-system-x86_64``.
    tc : str or None
        ``tc`` (only looked up when a run shapes the link).
    """

    qemu: str
    tc: str | None


def check_environment(qemu: str = QEMU_BINARY, need_tc: bool = False) -> Tools:
    """Find QEMU (and ``tc`` when a run shapes the link), or raise one clear error.

    Raises
    ------
    MeasureEnvironmentError
        Naming the missing program and the Debian package that provides it.
    """
    exe = shutil.which(qemu) if os.sep not in qemu else (qemu if os.access(qemu, os.X_OK) else None)
    if exe is None:
        raise MeasureEnvironmentError(f"QEMU not found ({qemu} is not on PATH); {APT_HINT} "
                                      f"qemu-system-x86")
    tc = None
    if need_tc:
        tc = shutil.which("tc")
        if tc is None:
            raise MeasureEnvironmentError(f"tc not found (a run shapes the link with tc on lo); "
                                          f"{APT_HINT} iproute2")
        if os.geteuid() != 0:
            raise MeasureEnvironmentError("shaping the link with tc needs root; run as root or "
                                          "leave `link` out of the spec (unshaped loopback)")
    return Tools(exe, tc)


def qemu_version(exe: str) -> str:
    """``7.2.22`` from ``qemu-system-x86_64 --version`` (``unknown`` if it cannot be read)."""
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    m = re.search(r"version\s+([0-9][0-9.]*)", out)
    return m.group(1) if m else "unknown"


def free_port(ports: tuple[int, int] | None = None) -> int:
    """A TCP port of 127.0.0.1 that nobody listens on (the kernel's choice, or one in ``ports``).

    Raises
    ------
    MeasureEnvironmentError
        If no port can be bound.
    """
    candidates: Sequence[int] = range(ports[0], ports[1] + 1) if ports else [0]
    for port in candidates:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
            return s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()
    where = f" in {ports[0]}-{ports[1]}" if ports else ""
    raise MeasureEnvironmentError(f"no free TCP port on 127.0.0.1{where} for the migration stream; "
                                  f"free one or widen [measure] ports")


def _die_with_parent() -> None:
    """In the child before exec: own process group, SIGKILL when the harness dies."""
    os.setsid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class QemuProcess:
    """One QEMU process with its QMP socket, debug-console file and log.

    Parameters
    ----------
    exe : str
        The QEMU binary.
    args : list of str
        Its arguments.
    log : Path
        File receiving QEMU's stdout and stderr.
    name : str
        ``source`` or ``destination``.
    """

    def __init__(self, exe: str, args: list[str], log: Path, name: str) -> None:
        self.name = name
        self.log = log
        self.argv = [exe, *args]
        with open(log, "wb") as fh:
            try:
                self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=fh,
                                             stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
            except OSError as exc:
                raise MeasureEnvironmentError(f"cannot start QEMU ({exe}): {exc}") from None

    @property
    def pid(self) -> int:
        """Process id (also its process group id)."""
        return self.proc.pid

    def alive(self) -> bool:
        """True while QEMU runs."""
        return self.proc.poll() is None

    def check_alive(self) -> None:
        """Raise :class:`MeasureRunError` with the tail of QEMU's log if it has exited."""
        if self.proc.poll() is not None:
            raise MeasureRunError(f"the {self.name} QEMU exited with status {self.proc.returncode}: "
                                  f"{self.log_tail()}")

    def log_tail(self, n: int = 300) -> str:
        """Last ``n`` characters of QEMU's log on one line."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return " ".join(text.split())[-n:] or "(no output)"

    def reap(self, grace: float = 2.0) -> None:
        """Stop QEMU for good: wait up to ``grace`` s, then SIGKILL its process group; wait."""
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
            pass


def qemu_args(*, memory_mib: int, kernel: Path, append: str, qmp_socket: Path, debug_log: Path,
              accel: str, incoming: bool, prealloc: bool) -> list[str]:
    """Arguments of one QEMU of a measured run (source or destination).

    Both sides get the same machine (the destination also loads the kernel, so that the option ROMs
    match); the destination waits with ``-incoming defer``.
    """
    args = ["-accel", accel, "-machine", "pc", "-m", f"{memory_mib}M", "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none",
            "-kernel", str(kernel), "-append", append,
            "-chardev", f"file,id=dbg,path={debug_log}",
            "-device", "isa-debugcon,iobase=0xe9,chardev=dbg",
            "-qmp", f"unix:{qmp_socket},server=on,wait=off"]
    if prealloc:
        args.append("-mem-prealloc")
    if incoming:
        args += ["-incoming", "defer"]
    return args


class ShapedLink:
    """``tc`` htb shaping of TCP traffic to one port of 127.0.0.1, as a context manager.

    Parameters
    ----------
    tc : str
        The ``tc`` binary.
    port : int
        The destination port of the migration stream.
    rate_bps : float
        Shaped rate, bits per second.
    burst_bytes : int
        htb burst (and cburst), bytes: at least one loopback packet (64 KiB).
    """

    def __init__(self, tc: str, port: int, rate_bps: float, burst_bytes: int) -> None:
        self.tc, self.port, self.rate_bps, self.burst = tc, port, rate_bps, burst_bytes
        self.active = False

    def _tc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        try:
            res = subprocess.run([self.tc, *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError) as exc:
            raise MeasureEnvironmentError(f"tc failed to run: {exc}") from None
        if check and res.returncode != 0:
            raise MeasureEnvironmentError(f"tc {' '.join(args)} failed: "
                                          f"{' '.join(res.stderr.split())}")
        return res

    def __enter__(self) -> "ShapedLink":
        shown = self._tc("qdisc", "show", "dev", "lo").stdout
        root = next((ln for ln in shown.splitlines() if " root " in ln), "")
        if f" {TC_HANDLE}: " in root:   # left by a killed harness: ours to remove
            self._tc("qdisc", "del", "dev", "lo", "root", check=False)
        elif root and not root.startswith("qdisc noqueue"):
            raise MeasureEnvironmentError(f"lo already has a root qdisc ({root.strip()}); the "
                                          f"harness will not replace it: remove it first")
        rate = f"{int(self.rate_bps)}bit"
        self.active = True
        try:
            self._tc("qdisc", "add", "dev", "lo", "root", "handle", f"{TC_HANDLE}:", "htb")
            self._tc("class", "add", "dev", "lo", "parent", f"{TC_HANDLE}:", "classid",
                     f"{TC_HANDLE}:1", "htb", "rate", rate, "ceil", rate, "burst", str(self.burst),
                     "cburst", str(self.burst))
            self._tc("filter", "add", "dev", "lo", "parent", f"{TC_HANDLE}:", "protocol", "ip",
                     "prio", "1", "u32", "match", "ip", "dport", str(self.port), "0xffff",
                     "flowid", f"{TC_HANDLE}:1")
        except BaseException:
            self.remove()
            raise
        return self

    def remove(self) -> None:
        """Delete the root qdisc (with its class and filter); safe to call twice."""
        if self.active:
            self._tc("qdisc", "del", "dev", "lo", "root", check=False)
            self.active = False

    def __exit__(self, *exc: object) -> None:
        self.remove()


def wait_until(predicate, timeout: float, period: float = 0.05):  # type: ignore[no-untyped-def]
    """Call ``predicate`` until it returns something truthy (returned) or ``timeout`` s pass
    (``None``)."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() >= deadline:
            return None
        time.sleep(period)
