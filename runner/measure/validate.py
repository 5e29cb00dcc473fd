"""Check the model against real live-migration measurements (validation CSVs and run directories).

Two formats are read. The *training CSV* (``tests/data/qemu-train.csv``; columns ``mem_mib``,
``fill_mib``, ``pre_guest_write_rate_pps``, ...; one row per real migration) is mapped to model
inputs with the harness conditions of its sidecar ``<name>.meta.toml`` (``[conditions]``; the
constants below when there is none). The output of ``migsim measure qemu`` (a run
directory, its ``runs.csv`` or a Parquet part; rows already in migsim's column vocabulary, see
:mod:`runner.measure.rows`) carries its own conditions (``conditions.json``, or the ``# conditions:``
line heading the CSV): cancel time, jitter allowance, loopback rate, firmware bytes. Either way the
``qemu`` profile predicts every run and the relative errors of total time and transferred RAM bytes,
the downtime difference and whether the converged / not-converged verdict matches are reported.
Conditions of the training CSV (``tests/data/qemu-train.meta.toml``; not fitted per run):

* the unshaped loopback carries ``LOOPBACK_Bps`` (the bulk runs' stop-and-copy moves ~1-9 MB in
  1-5 ms: about 2 GB/s); a shaped link carries its shaped rate; loopback has no Ethernet framing, so
  the protocol efficiency is 1;
* guest RAM that was neither filled nor in the working set is zero pages, except ``LOW_NONZERO``
  bytes of firmware and guest kernel below 4 MiB (the zero-fill runs send 382 normal pages for a
  256-page working set: about 0.5 MiB more);
* runs whose pre-copy was still iterating were cancelled after 45-60 s, so the model is given a
  timeout of ``CANCEL_S`` = 45 s;
* loopback downtimes under ~20 ms are scheduling jitter, so time errors allow ``JITTER_S`` absolute.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.migration import simulate

MIB = 2.0**20
PAGE = 4096.0
LOOPBACK_Bps = 2e9
LOW_NONZERO = 0.5 * MIB
CANCEL_S = 45.0
JITTER_S = 0.020


@dataclass(frozen=True)
class RunCheck:
    """One measured run next to the model's prediction.

    ``regime`` names the kind of run (the CSV's column, else :func:`regime_of`); ``group`` is the
    same for repeats of one point (their spread is QEMU's own); ``split`` is ``train`` or ``test``
    (:mod:`runner.measure.split`; empty for the training CSV).
    """

    run_id: str
    converged: bool
    predicted_converged: bool
    total_time_s: float
    predicted_total_time_s: float
    ram_bytes: float
    predicted_ram_bytes: float
    regime: str = ""
    group: str = ""
    split: str = ""
    downtime_ms: float = math.nan
    predicted_downtime_ms: float = math.nan
    jitter_s: float = JITTER_S

    @property
    def time_error(self) -> float:
        """Relative error of total time, net of the loopback jitter allowance."""
        diff = max(abs(self.predicted_total_time_s - self.total_time_s) - self.jitter_s, 0.0)
        return diff / self.total_time_s

    @property
    def downtime_diff_ms(self) -> float:
        """Absolute difference of downtime, ms (loopback downtimes are too short for ratios)."""
        return abs(self.predicted_downtime_ms - self.downtime_ms)

    @property
    def bytes_error(self) -> float:
        """Relative error of transferred RAM bytes."""
        return abs(self.predicted_ram_bytes - self.ram_bytes) / self.ram_bytes


def read_runs(path: str | Path) -> list[dict[str, str]]:
    """Read a validation CSV into a list of rows."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def training_conditions(path: str | Path) -> tuple[dict[str, Any], str]:
    """Harness conditions of a training CSV and where they come from.

    Read from the sidecar ``<csv without .csv>.meta.toml`` (table ``[conditions]``: ``cancel_after_s``,
    ``jitter_s``, ``loopback_Bps``, ``low_nonzero_bytes``, and any others to show), the
    :data:`DEFAULT_CONDITIONS` filling what it leaves out.

    Returns
    -------
    conditions : dict
    source : str
        The sidecar's path, or ``"built-in defaults"`` when there is none.
    """
    import tomllib

    meta = Path(path).with_suffix(".meta.toml")
    if not meta.is_file():
        return dict(DEFAULT_CONDITIONS), "built-in defaults"
    with open(meta, "rb") as fh:
        doc = tomllib.load(fh)
    cond = doc.get("conditions", {})
    if not isinstance(cond, dict):
        raise ValueError(f"{meta}: [conditions] must be a table")
    for k in DEFAULT_CONDITIONS:
        if k in cond and not (isinstance(cond[k], (int, float)) and not isinstance(cond[k], bool)
                              and math.isfinite(cond[k]) and cond[k] >= 0):
            raise ValueError(f"{meta}: conditions.{k} = {cond[k]!r}; allowed: a number >= 0")
    return {**DEFAULT_CONDITIONS, **cond}, str(meta)


def qemu_columns(rows: list[dict[str, str]],
                 conditions: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Map measured QEMU runs to model input columns (SI units).

    Parameters
    ----------
    rows : list of dict
        Rows of a validation CSV (columns as in docs/qemu-validation-data.md).
    conditions : dict, optional
        Harness conditions (:func:`training_conditions`); default :data:`DEFAULT_CONDITIONS`.

    Returns
    -------
    dict
        Input columns for :func:`models.migration.simulate` with ``profile = qemu``.
    """
    cond = {**DEFAULT_CONDITIONS, **(conditions or {})}

    def col(name: str) -> np.ndarray:
        return np.array([float(r[name] or 0) for r in rows])

    mem = col("mem_mib") * MIB
    ws = col("ws_pages") * PAGE
    ws_end = col("wsoff_mib") * MIB + ws
    nonzero = np.minimum(np.maximum(col("fill_mib") * MIB, ws_end)
                         + float(cond["low_nonzero_bytes"]), mem)
    shaped = col("link_shaped_Bps")
    link_Bps = np.where(shaped > 0, shaped, float(cond["loopback_Bps"]))
    return {
        "profile": np.array(["qemu"] * len(rows), dtype=object),
        "memory_bytes": mem,
        "page_size_bytes": np.full(len(rows), PAGE),
        "zero_fraction": 1.0 - nonzero / mem,
        "wws_bytes": ws,
        "dirty_rate_Bps": col("pre_guest_write_rate_pps") * PAGE,
        "dirty_pattern": np.array(["sequential" if r["guest_pattern"] == "seq" else "random"
                                   for r in rows], dtype=object),
        "link_bps": link_Bps * 8.0,
        "efficiency": np.ones(len(rows)),
        "max_bandwidth_Bps": col("max_bandwidth_Bps"),
        "downtime_limit_ms": col("downtime_limit_ms"),
        "auto_converge": col("cap_auto_converge") > 0,
        "rtt_ms": np.zeros(len(rows)),
        "timeout_s": np.full(len(rows), float(cond["cancel_after_s"])),
    }


def check_qemu(path: str | Path) -> list[RunCheck]:
    """Predict every run of QEMU measurements and pair it with the measurement.

    Parameters
    ----------
    path : str or Path
        A training CSV, a ``migsim measure qemu`` run directory, its ``runs.csv``, or a Parquet
        file of its rows.
    """
    return check_qemu_with_conditions(path)[0]


def check_qemu_with_conditions(path: str | Path) -> tuple[list[RunCheck], dict[str, Any], str]:
    """:func:`check_qemu`, with the conditions assumed and where they come from."""
    p = Path(path)
    if p.is_dir() or p.suffix == ".parquet" or _is_measured_csv(p):
        rows, conditions = load_measured(p)
        return check_measured(rows, conditions), conditions, f"{p}'s own conditions"
    conditions, source = training_conditions(p)
    rows = read_runs(path)
    if not rows:
        raise ValueError("no runs")
    res = simulate(qemu_columns(rows, conditions))
    out = []
    for i, r in enumerate(rows):
        out.append(RunCheck(
            run_id=r["run_id"], converged=r["converged"] == "1",
            predicted_converged=bool(res["status"][i] == "completed"),
            total_time_s=float(r["total_time_ms"] or "nan") / 1e3,
            predicted_total_time_s=float(res["total_time_s"][i]),
            ram_bytes=float(r["ram_transferred_bytes"]),
            predicted_ram_bytes=float(res["memory_transferred_bytes"][i]),
            regime=r.get("regime", ""),
            group=r["run_id"].rsplit("_r", 1)[0] if "_r" in r["run_id"][-3:] else r["run_id"],
            downtime_ms=float(r["downtime_ms"] or "nan"),
            predicted_downtime_ms=float(res["downtime_ms"][i]),
            jitter_s=float(conditions["jitter_s"])))
    return out, conditions, source


def describe_conditions(conditions: dict[str, Any]) -> str:
    """One line naming the conditions validation assumes (what ``migsim validate`` prints)."""
    parts = [f"cancelled after {conditions['cancel_after_s']:g} s (the model's timeout)",
             f"time errors net of {conditions['jitter_s'] * 1e3:g} ms jitter",
             f"unshaped loopback {conditions['loopback_Bps'] / 1e9:g} GB/s",
             f"{conditions['low_nonzero_bytes'] / MIB:g} MiB of firmware/kernel below the fill"]
    for k in ("qemu_version", "accel", "host_cpus"):
        if k in conditions:
            parts.append(f"{k} {conditions[k]}")
    return "; ".join(parts)


# ---------------------------------------------------------------------------- harness output
#: Conditions assumed when a harness CSV carries none (the training CSV's constants).
DEFAULT_CONDITIONS: dict[str, float] = {"cancel_after_s": CANCEL_S, "jitter_s": JITTER_S,
                                        "loopback_Bps": LOOPBACK_Bps, "low_nonzero_bytes": LOW_NONZERO}


def _is_measured_csv(path: Path) -> bool:
    """True when the CSV's header row (after ``#`` lines) has migsim's ``memory_bytes``."""
    try:
        with open(path, newline="") as fh:
            for line in fh:
                if not line.startswith("#"):
                    return "memory_bytes" in line.split(",")
    except OSError:
        return False
    return False


def _read_commented_csv(path: Path) -> tuple[list[dict[str, str]], dict[str, Any]]:
    conditions: dict[str, Any] = {}
    with open(path, newline="") as fh:
        lines = fh.readlines()
    body = []
    for line in lines:
        if line.startswith("#"):
            text = line[1:].strip()
            if text.startswith("conditions:"):
                conditions = json.loads(text.removeprefix("conditions:"))
        else:
            body.append(line)
    return list(csv.DictReader(body)), conditions


def load_measured(path: str | Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows and conditions of ``migsim measure qemu`` output.

    Parameters
    ----------
    path : str or Path
        The run directory (reads ``runs.csv`` and ``conditions.json``), a CSV it wrote (conditions
        from its ``# conditions:`` line), or a Parquet file of rows (conditions from a
        ``conditions.json`` beside it or one level up).

    Returns
    -------
    rows : list of dict
        Column -> value (strings from a CSV).
    conditions : dict
        The data set's conditions, :data:`DEFAULT_CONDITIONS` filling what is missing.
    """
    p = Path(path)
    conditions: dict[str, Any] = {}
    if p.is_dir():
        cond = p / "conditions.json"
        if cond.is_file():
            conditions = json.loads(cond.read_text())
        p = p / "runs.csv"
        if not p.is_file():
            raise ValueError(f"no runs.csv in {path}")
    if p.suffix == ".parquet":
        import pyarrow.parquet as pq
        rows = pq.read_table(p).to_pylist()
        for cand in (p.parent / "conditions.json", p.parent.parent / "conditions.json"):
            if cand.is_file():
                conditions = json.loads(cand.read_text())
                break
    else:
        rows, from_csv = _read_commented_csv(p)
        conditions = conditions or from_csv
    return rows, {**DEFAULT_CONDITIONS, **conditions}


def _f(x: Any) -> float:
    if x is None or x == "":
        return math.nan
    return float(x)


def _b(x: Any) -> bool:
    return x is True or str(x).lower() in ("true", "1")


def regime_of(row: dict[str, Any]) -> str:
    """The kind of a measured run, from its inputs (a fixed rule, for per-regime reporting).

    ``auto-converge``, ``hot-set``, ``shaped-nocap`` / ``shaped-cap`` (link shaped with tc; no cap
    means ``max_bandwidth`` at least 4x the link), ``bulk`` (the working set at most 2 % of memory,
    or a dirty rate under 5 % of the transfer rate min(cap, link)), else by that ratio rho:
    ``rho<0.7``, ``rho0.7-0.98``, ``rho>=0.98``.
    """
    if _b(row.get("auto_converge")):
        return "auto-converge"
    if _f(row.get("hot_set_bytes")) > 0:
        return "hot-set"
    cap = _f(row.get("max_bandwidth_Bps"))
    link = _f(row.get("link_bps")) / 8.0
    if _b(row.get("link_shaped")):
        return "shaped-nocap" if cap >= 4 * link else "shaped-cap"
    rho = _f(row.get("measured_dirty_rate_Bps")) / min(cap, link)
    if rho < 0.05 or _f(row.get("wws_bytes")) <= 0.02 * _f(row.get("memory_bytes")):
        return "bulk"
    if rho < 0.7:
        return "rho<0.7"
    return "rho0.7-0.98" if rho < 0.98 else "rho>=0.98"


def measured_columns(rows: list[dict[str, Any]], conditions: dict[str, Any]) -> dict[str, np.ndarray]:
    """Model input columns (``profile = qemu``) of harness rows: their own inputs, with the
    guest's *measured* write rates and sequential writer's phase, the data set's loopback rate for
    unshaped links and its cancel time as the timeout."""
    n = len(rows)

    def col(name: str) -> np.ndarray:
        return np.array([_f(r.get(name)) for r in rows])

    shaped = np.array([_b(r.get("link_shaped")) for r in rows])
    link = np.where(shaped, col("link_bps"), float(conditions["loopback_Bps"]) * 8.0)
    return {
        "profile": np.array(["qemu"] * n, dtype=object),
        "memory_bytes": col("memory_bytes"),
        "page_size_bytes": col("page_size_bytes"),
        "vcpus": np.ones(n),
        "zero_fraction": col("zero_fraction"),
        "wws_bytes": col("wws_bytes"),
        "hot_set_bytes": col("hot_set_bytes"),
        "hot_rate_Bps": np.nan_to_num(col("measured_hot_rate_Bps")),
        "dirty_rate_Bps": col("measured_dirty_rate_Bps"),
        "dirty_pattern": np.array([r.get("dirty_pattern") or "random" for r in rows], dtype=object),
        # where the sequential writer was at migrate (null where not recorded: the expectation)
        "dirty_phase": col("writer_phase"),
        "link_bps": link,
        "efficiency": np.ones(n),
        "max_bandwidth_Bps": col("max_bandwidth_Bps"),
        "downtime_limit_ms": col("downtime_limit_ms"),
        "auto_converge": np.array([_b(r.get("auto_converge")) for r in rows]),
        "rtt_ms": np.zeros(n),
        "timeout_s": np.full(n, float(conditions["cancel_after_s"])),
    }


def check_measured(rows: list[dict[str, Any]], conditions: dict[str, Any]) -> list[RunCheck]:
    """Predict harness rows (see :func:`load_measured`) and pair each with its measurement."""
    from runner.measure.split import split_of

    if not rows:
        return []
    res = simulate(measured_columns(rows, conditions))
    jitter = float(conditions["jitter_s"])
    out = []
    for i, r in enumerate(rows):
        out.append(RunCheck(
            run_id=str(r["run_id"]), converged=_b(r["converged"]),
            predicted_converged=bool(res["status"][i] == "completed"),
            total_time_s=_f(r["total_time_s"]),
            predicted_total_time_s=float(res["total_time_s"][i]),
            ram_bytes=_f(r["memory_transferred_bytes"]),
            predicted_ram_bytes=float(res["memory_transferred_bytes"][i]),
            regime=regime_of(r), group=str(r["input_hash"]), split=split_of(str(r["input_hash"])),
            downtime_ms=_f(r["downtime_ms"]), predicted_downtime_ms=float(res["downtime_ms"][i]),
            jitter_s=jitter))
    return out


@dataclass(frozen=True)
class Summary:
    """Errors over a set of checks (converged runs for the error statistics).

    Attributes
    ----------
    runs, converged, wrong : int
        Runs, measured-converged runs, wrong verdicts.
    time, ram : tuple of float
        Median, p90 and worst relative error.
    downtime_ms : tuple of float
        Median and p90 absolute downtime difference, ms.
    spread : float
        QEMU's own repeat spread of total time: the median over points with >= 2 converged repeats
        of (max - min) / median; NaN when there are none.
    spread_points : int
        Points with repeats behind ``spread``.
    """

    runs: int
    converged: int
    wrong: int
    time: tuple[float, float, float]
    ram: tuple[float, float, float]
    downtime_ms: tuple[float, float]
    spread: float
    spread_points: int


def _stats(x: np.ndarray) -> tuple[float, float, float]:
    if not len(x):
        return (math.nan, math.nan, math.nan)
    return float(np.median(x)), float(np.percentile(x, 90)), float(x.max())


def summarise(checks: list[RunCheck]) -> Summary:
    """Verdicts, error statistics and QEMU's repeat spread of ``checks``."""
    conv = [c for c in checks if c.converged]
    # errors of the runs both QEMU and the model converged (a wrong verdict is counted as such)
    both = [c for c in conv if c.predicted_converged]
    te = np.array([c.time_error for c in both])
    be = np.array([c.bytes_error for c in both])
    dd = np.array([c.downtime_diff_ms for c in conv if not math.isnan(c.downtime_diff_ms)])
    groups: dict[str, list[float]] = {}
    for c in conv:
        groups.setdefault(c.group, []).append(c.total_time_s)
    spreads = [(max(v) - min(v)) / float(np.median(v)) for v in groups.values() if len(v) >= 2]
    return Summary(
        runs=len(checks), converged=len(conv),
        wrong=sum(c.converged != c.predicted_converged for c in checks),
        time=_stats(te), ram=_stats(be),
        downtime_ms=(float(np.median(dd)), float(np.percentile(dd, 90))) if len(dd) else
        (math.nan, math.nan),
        spread=float(np.median(spreads)) if spreads else math.nan, spread_points=len(spreads))
