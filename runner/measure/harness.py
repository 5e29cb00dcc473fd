"""One measured live migration between two QEMU processes on this machine.

:func:`measure_run` starts a source QEMU running the measurement guest and a destination QEMU
(``-incoming defer``), waits until the guest has filled its memory and has written at its paced rate
for a few seconds (its own reports on ``isa-debugcon``), sets capabilities and parameters over QMP,
optionally shapes ``lo`` with ``tc``, migrates over TCP on 127.0.0.1, samples ``query-migrate``
every ~100 ms, cancels a pre-copy still iterating after ``cancel_after`` seconds, and returns QEMU's
own figures, the events' timestamps and the samples. Both QEMUs are always reaped and the shaping
always removed (``try``/``finally``; the QEMUs also die with the harness). Leaves out: rows and
files (:mod:`runner.measure.rows`, :mod:`runner.measure.run`).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.measure.errors import MeasureRunError
from runner.measure.guest import PAGE, GuestLayout, avail_pages
from runner.measure.qemu import QemuProcess, ShapedLink, Tools, free_port, qemu_args
from runner.measure.qmp import QMP

MIB = 2**20
_REPORT = re.compile(r"^R (\d+) (\d+) (\d+)$")


@dataclass(frozen=True)
class Settings:
    """Harness settings of a data set (the spec's ``[measure]`` table), SI units.

    Attributes
    ----------
    repeats : int
        Measurements of each point.
    cancel_after_s : float
        A pre-copy still iterating this long after ``migrate`` is cancelled (not converged).
    deadline_s : float
        Hard limit of one migration beyond ``cancel_after_s`` (then the run fails).
    boot_timeout_s : float
        Longest wait for the guest's ``READY`` (memory filled).
    warmup_s : int
        Seconds of paced writing (guest reports) before migrating; the last one is the measured rate.
    sample_s : float
        Interval of ``query-migrate`` samples.
    accel : str
        QEMU ``-accel`` value.
    prealloc : bool
        ``-mem-prealloc`` on both QEMUs.
    ports : tuple of int, optional
        Range of TCP ports for the stream (default: the kernel's choice).
    tc_burst_bytes : int
        htb burst of a shaped link.
    loopback_Bps : float
        Rate the model is given for unshaped loopback (a validation condition).
    jitter_s : float
        Loopback scheduling jitter allowed in time errors (a validation condition).
    low_nonzero_bytes : float
        Non-zero firmware and guest-kernel bytes below 4 MiB (a validation condition).
    qemu : str
        QEMU binary.
    """

    repeats: int = 1
    cancel_after_s: float = 45.0
    deadline_s: float = 30.0
    boot_timeout_s: float = 60.0
    warmup_s: int = 2
    sample_s: float = 0.1
    accel: str = "tcg,tb-size=64"
    prealloc: bool = False
    ports: tuple[int, int] | None = None
    tc_burst_bytes: int = 131072
    loopback_Bps: float = 2e9
    jitter_s: float = 0.020
    low_nonzero_bytes: float = 0.5 * MIB
    qemu: str = "qemu-system-x86_64"


@dataclass(frozen=True)
class RunInputs:
    """What one run asks for (column units of :mod:`models.fields`).

    ``wws_bytes`` ``None``: the working set is all guest memory above 4 MiB outside the hot set.
    ``max_bandwidth_Bps`` / ``downtime_limit_ms`` ``None``: QEMU's defaults. ``link_bps`` infinite:
    loopback unshaped.
    """

    memory_bytes: float
    dirty_rate_Bps: float = 0.0
    dirty_pattern: str = "random"
    wws_bytes: float | None = None
    wws_offset_bytes: float = 0.0
    hot_set_bytes: float = 0.0
    hot_rate_Bps: float = 0.0
    zero_fraction: float = 0.0
    max_bandwidth_Bps: float | None = None
    downtime_limit_ms: float | None = None
    auto_converge: bool = False
    link_bps: float = math.inf

    @property
    def shaped(self) -> bool:
        """True when the loopback link is shaped with ``tc``."""
        return math.isfinite(self.link_bps)

    def layout(self, low_nonzero_bytes: float) -> GuestLayout:
        """The guest's pages and rates for these inputs.

        Raises
        ------
        MeasureRunError
            If the working set, hot set and fill do not fit the guest memory above 4 MiB.
        """
        avail = avail_pages(self.memory_bytes)
        hot = int(round(self.hot_set_bytes / PAGE))
        wsoff = int(round(self.wws_offset_bytes / PAGE))
        ws = int(round(self.wws_bytes / PAGE)) if self.wws_bytes is not None else avail - hot - wsoff
        want = (1.0 - self.zero_fraction) * self.memory_bytes - low_nonzero_bytes
        fill = min(max(int(want // PAGE), 0), avail)
        if avail <= 0 or ws < 0 or wsoff + ws + hot > avail:
            raise MeasureRunError(f"working set ({ws} pages at {wsoff}) and hot set ({hot} pages) "
                                  f"do not fit the {avail} pages above 4 MiB of a "
                                  f"{self.memory_bytes / MIB:g} MiB guest")
        rate = int(round(self.dirty_rate_Bps / PAGE))
        if rate and not ws:
            raise MeasureRunError("a dirty rate needs a working set (wws > 0)")
        hotrate = int(round(self.hot_rate_Bps / PAGE))
        if hotrate and not hot:
            raise MeasureRunError("a hot rate needs a hot set (hot_set > 0)")
        return GuestLayout(fill=fill, ws=ws, wsoff=wsoff, hot=hot, hotoff=wsoff + ws, rate=rate,
                           hotrate=hotrate, pattern=self.dirty_pattern)


@dataclass
class Measurement:
    """What one run measured (raw; :mod:`runner.measure.rows` turns it into a row).

    Attributes
    ----------
    status : str
        QEMU's final status: ``completed`` or ``cancelled``.
    info : dict
        QEMU's final ``query-migrate`` answer.
    params : dict
        ``query-migrate-parameters`` of the source after setting them.
    samples : list of dict
        ``query-migrate`` every ``sample_s``: ``t_ms`` after ``migrate`` plus QEMU's fields.
    events : list of dict
        Events of both sides: ``side``, ``name``, ``data``, ``t_ms`` (QEMU's clock, after the
        migration's setup event).
    guest_rate_pps, guest_hot_rate_pps : float
        The guest's page writes in its last reported second before ``migrate``.
    guest_reports : list of tuple
        Every ``(second, ws pages, hot pages)`` the source guest printed.
    layout : GuestLayout
        What the guest was told.
    total_time_source : str
        ``qmp`` (QEMU's ``total-time``) or ``events`` (setup to completed event).
    loadavg_1m : float
        1-minute load average when ``migrate`` was issued.
    loadavg_1m_end : float
        1-minute load average at the end.
    qemu_version : str
        From QEMU's QMP greeting.
    wall_s : float
        Wall time of the whole run (boot to reap), seconds.
    port : int
        TCP port of the migration stream.
    """

    status: str
    info: dict[str, Any]
    params: dict[str, Any]
    samples: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    guest_rate_pps: float = math.nan
    guest_hot_rate_pps: float = math.nan
    guest_reports: list[tuple[int, int, int]] = field(default_factory=list)
    layout: GuestLayout | None = None
    total_time_source: str = "qmp"
    loadavg_1m: float = math.nan
    loadavg_1m_end: float = math.nan
    qemu_version: str = "unknown"
    wall_s: float = math.nan
    port: int = 0
    report_to_migrate_s: float = math.nan


def read_reports(path: Path) -> tuple[bool, str | None, list[tuple[int, int, int]]]:
    """Parse the guest's debug console: (READY seen, ERROR line or None, rate reports)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return False, None, []
    ready, error, reports = False, None, []
    lines = text.split("\n")
    for line in lines[:-1]:   # the last piece may be a line still being written
        line = line.strip()
        if line.startswith("READY"):
            ready = True
        elif line.startswith("ERROR"):
            error = line
        elif m := _REPORT.match(line):
            reports.append((int(m.group(1)), int(m.group(2)), int(m.group(3))))
    return ready, error, reports


def _loadavg() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return math.nan


WORK_PREFIX = "migsim-qemu-"


def _work_dir() -> Path:
    """A short temporary directory named after this process (unix socket paths are limited to
    107 bytes); those of harnesses that were killed are removed first."""
    base = Path("/tmp") if os.path.isdir("/tmp") else Path(tempfile.gettempdir())
    clean_stale_work_dirs(base)
    return Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-", dir=base))


def clean_stale_work_dirs(base: Path) -> int:
    """Remove ``migsim-qemu-<pid>-*`` directories whose harness process is gone; return how many."""
    n = 0
    for d in base.glob(f"{WORK_PREFIX}*-*"):
        try:
            pid = int(d.name[len(WORK_PREFIX):].split("-", 1)[0])
        except ValueError:
            continue
        try:
            os.kill(pid, 0)
            continue            # still running (or not ours to signal): keep
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        shutil.rmtree(d, ignore_errors=True)
        n += 1
    return n


def measure_run(inputs: RunInputs, settings: Settings, tools: Tools, kernel: Path) -> Measurement:
    """Measure one live migration.

    Parameters
    ----------
    inputs : RunInputs
        Guest and migration parameters.
    settings : Settings
        Harness settings.
    tools : Tools
        QEMU (and ``tc`` if the link is shaped).
    kernel : Path
        The built guest (:func:`runner.measure.guest.build`).

    Returns
    -------
    Measurement

    Raises
    ------
    MeasureRunError
        When QEMU dies, a deadline passes or QEMU reports the migration failed.
    MeasureEnvironmentError
        When no port is free or ``tc`` cannot shape the link.
    """
    t_start = time.monotonic()
    layout = inputs.layout(settings.low_nonzero_bytes)
    work = _work_dir()
    procs: list[QemuProcess] = []
    sessions: list[QMP] = []
    shaping: ShapedLink | None = None
    try:
        port = free_port(settings.ports)
        mib = int(math.ceil(inputs.memory_bytes / MIB))
        common = dict(memory_mib=mib, kernel=kernel, append=layout.cmdline(),
                      accel=settings.accel, prealloc=settings.prealloc)
        src = QemuProcess(tools.qemu, qemu_args(**common, qmp_socket=work / "src.qmp",
                                                debug_log=work / "src.dbg", incoming=False),
                          work / "src.log", "source")
        procs.append(src)
        dst = QemuProcess(tools.qemu, qemu_args(**common, qmp_socket=work / "dst.qmp",
                                                debug_log=work / "dst.dbg", incoming=True),
                          work / "dst.log", "destination")
        procs.append(dst)
        qs = _connect(QMP(str(work / "src.qmp"), "source"), src)
        sessions.append(qs)
        qd = _connect(QMP(str(work / "dst.qmp"), "destination"), dst)
        sessions.append(qd)
        version = _greeting_version(qs.greeting)

        reports, report_seen = _warm_up(work / "src.dbg", src, dst, settings, layout)
        last = reports[-1]

        caps = [{"capability": "events", "state": True},
                {"capability": "auto-converge", "state": bool(inputs.auto_converge)}]
        qs.command("migrate-set-capabilities", capabilities=caps)
        qd.command("migrate-set-capabilities", capabilities=caps)
        params: dict[str, Any] = {}
        if inputs.max_bandwidth_Bps is not None:
            params["max-bandwidth"] = int(round(inputs.max_bandwidth_Bps))
        if inputs.downtime_limit_ms is not None:
            params["downtime-limit"] = int(round(inputs.downtime_limit_ms))
        if params:
            qs.command("migrate-set-parameters", **{k.replace("-", "_"): v for k, v in params.items()})
        actual = qs.command("query-migrate-parameters")

        if inputs.shaped:
            assert tools.tc is not None
            shaping = ShapedLink(tools.tc, port, inputs.link_bps, settings.tc_burst_bytes)
            shaping.__enter__()
        qd.command("migrate-incoming", uri=f"tcp:127.0.0.1:{port}")
        load0 = _loadavg()
        t0 = time.monotonic()
        qs.command("migrate", uri=f"tcp:127.0.0.1:{port}")
        status, info, samples = _follow(qs, qd, src, dst, settings, t0)
        if status == "completed":
            info = _final_info(qs, info)
            # the link stays shaped until the destination resumes: QEMU's source completes when
            # its last byte enters the socket, up to a send buffer before the destination has it
            wait_resume = time.monotonic() + 5.0
            while qd.first("RESUME") is None and time.monotonic() < wait_resume:
                dst.check_alive()
                qd.poll_events()
                time.sleep(0.02)
        if shaping is not None:
            shaping.remove()
        qs.poll_events()
        if dst.alive():
            qd.poll_events()
        m = Measurement(status=status, info=info, params=actual, samples=samples,
                        guest_rate_pps=float(last[1]), guest_hot_rate_pps=float(last[2]),
                        guest_reports=reports, layout=layout, loadavg_1m=load0,
                        qemu_version=version, port=port, report_to_migrate_s=t0 - report_seen)
        m.events = _events(qs, qd)
        if status == "completed" and not info.get("total-time"):
            m.total_time_source = "events"
        m.loadavg_1m_end = _loadavg()
        m.wall_s = time.monotonic() - t_start
        return m
    finally:
        for s in sessions:
            try:
                s.command("quit", timeout=1.0)
            except Exception:  # noqa: BLE001 - reaped below anyway
                pass
            s.close()
        for p in procs:
            p.reap(grace=1.0)
        if shaping is not None:
            shaping.remove()
        shutil.rmtree(work, ignore_errors=True)


def _connect(q: QMP, proc: QemuProcess) -> QMP:
    deadline = time.monotonic() + 20.0
    while True:
        proc.check_alive()
        try:
            return q.connect(timeout=1.0)
        except MeasureRunError:
            if time.monotonic() >= deadline:
                raise


def _greeting_version(greeting: dict[str, Any]) -> str:
    v = greeting.get("QMP", {}).get("version", {}).get("qemu", {})
    try:
        return f"{v['major']}.{v['minor']}.{v['micro']}"
    except KeyError:
        return "unknown"


def _warm_up(dbg: Path, src: QemuProcess, dst: QemuProcess, settings: Settings,
             layout: GuestLayout) -> tuple[list[tuple[int, int, int]], float]:
    """Wait for READY, then for ``warmup_s`` rate reports; return the reports and the monotonic
    time the last one was seen (within one 10 ms poll of the guest printing it)."""
    deadline = time.monotonic() + settings.boot_timeout_s
    while True:
        src.check_alive()
        dst.check_alive()
        ready, error, reports = read_reports(dbg)
        if error:
            raise MeasureRunError(f"the guest refused its parameters: {error} "
                                  f"({layout.cmdline()})")
        if ready and len(reports) >= settings.warmup_s:
            return reports, time.monotonic()
        if time.monotonic() >= deadline:
            what = "rate reports" if ready else "READY (memory filled)"
            raise MeasureRunError(f"the guest did not print its {what} within "
                                  f"{settings.boot_timeout_s:g} s")
        time.sleep(0.01)


_TERMINAL = ("completed", "failed", "cancelled")


def _follow(qs: QMP, qd: QMP, src: QemuProcess, dst: QemuProcess, settings: Settings,
            t0: float) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """Sample ``query-migrate`` until the migration ends; cancel it after ``cancel_after_s``."""
    samples: list[dict[str, Any]] = []
    cancelled_at: float | None = None
    hard = t0 + settings.cancel_after_s + settings.deadline_s
    info: dict[str, Any] = {}
    next_t = t0
    while True:
        src.check_alive()
        if cancelled_at is None:   # a cancel cuts the stream: the destination then exits, rightly
            dst.check_alive()
        info = qs.command("query-migrate")
        now = time.monotonic()
        samples.append(_sample(info, now - t0))
        qs.poll_events()
        if dst.alive():
            qd.poll_events()
        status = info.get("status", "")
        if status in _TERMINAL:
            if status == "failed":
                raise MeasureRunError(f"QEMU reports the migration failed: "
                                      f"{info.get('error-desc', 'no reason given')}")
            return status, info, samples
        if cancelled_at is None and now - t0 >= settings.cancel_after_s and status != "device":
            qs.command("migrate_cancel")
            cancelled_at = now
        if now >= hard:
            raise MeasureRunError(f"migration neither completed nor cancelled within "
                                  f"{settings.cancel_after_s + settings.deadline_s:g} s "
                                  f"(status {status!r})")
        next_t += settings.sample_s
        time.sleep(max(0.0, next_t - time.monotonic()))


def _sample(info: dict[str, Any], t: float) -> dict[str, Any]:
    ram = info.get("ram", {})
    return {"t_ms": round(t * 1e3, 1), "status": info.get("status"),
            "total_time_ms": info.get("total-time"), "expected_downtime_ms": info.get("expected-downtime"),
            "transferred": ram.get("transferred"), "remaining": ram.get("remaining"),
            "normal": ram.get("normal"), "duplicate": ram.get("duplicate"),
            "dirty_sync_count": ram.get("dirty-sync-count"), "dirty_pages_rate": ram.get("dirty-pages-rate"),
            "mbps": ram.get("mbps"), "throttle_pct": info.get("cpu-throttle-percentage", 0)}


def _final_info(qs: QMP, info: dict[str, Any]) -> dict[str, Any]:
    """QEMU 7.2 sometimes answers ``total-time`` 0 right after completing: ask a few more times."""
    for _ in range(10):
        if info.get("total-time"):
            return info
        time.sleep(0.05)
        info = qs.command("query-migrate")
    return info


def _events(qs: QMP, qd: QMP) -> list[dict[str, Any]]:
    """Both sides' events, times in ms after the source's MIGRATION setup event (QEMU clocks)."""
    setup = qs.first("MIGRATION", status="setup")
    base = setup.qemu_time if setup is not None else (qs.events[0].qemu_time if qs.events else 0.0)
    out = []
    for side, q in (("source", qs), ("destination", qd)):
        for e in q.events:
            out.append({"side": side, "name": e.name, "data": e.data,
                        "t_ms": round((e.qemu_time - base) * 1e3, 3)})
    out.sort(key=lambda e: e["t_ms"])
    return out
