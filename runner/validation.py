"""Check the model against real live-migration measurements (validation CSVs).

Reads the QEMU measurement format described in ``shared/validation/README.md`` (one row per real
migration), maps each run to model inputs with one fixed set of harness constants, runs the ``qemu``
profile and reports the relative errors of total time and transferred RAM bytes and whether the
converged / not-converged verdict matches. Harness constants (not fitted per run):

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
from dataclasses import dataclass
from pathlib import Path

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
    """One measured run next to the model's prediction."""

    run_id: str
    converged: bool
    predicted_converged: bool
    total_time_s: float
    predicted_total_time_s: float
    ram_bytes: float
    predicted_ram_bytes: float

    @property
    def time_error(self) -> float:
        """Relative error of total time, net of the loopback jitter allowance."""
        diff = max(abs(self.predicted_total_time_s - self.total_time_s) - JITTER_S, 0.0)
        return diff / self.total_time_s

    @property
    def bytes_error(self) -> float:
        """Relative error of transferred RAM bytes."""
        return abs(self.predicted_ram_bytes - self.ram_bytes) / self.ram_bytes


def read_runs(path: str | Path) -> list[dict[str, str]]:
    """Read a validation CSV into a list of rows."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def qemu_columns(rows: list[dict[str, str]]) -> dict[str, np.ndarray]:
    """Map measured QEMU runs to model input columns (SI units).

    Parameters
    ----------
    rows : list of dict
        Rows of a validation CSV (columns as in shared/validation/README.md).

    Returns
    -------
    dict
        Input columns for :func:`models.migration.simulate` with ``profile = qemu``.
    """
    def col(name: str) -> np.ndarray:
        return np.array([float(r[name] or 0) for r in rows])

    mem = col("mem_mib") * MIB
    ws = col("ws_pages") * PAGE
    ws_end = col("wsoff_mib") * MIB + ws
    nonzero = np.minimum(np.maximum(col("fill_mib") * MIB, ws_end) + LOW_NONZERO, mem)
    shaped = col("link_shaped_Bps")
    link_Bps = np.where(shaped > 0, shaped, LOOPBACK_Bps)
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
        "timeout_s": np.full(len(rows), CANCEL_S),
    }


def check_qemu(path: str | Path) -> list[RunCheck]:
    """Predict every run of a QEMU validation CSV and pair it with the measurement."""
    rows = read_runs(path)
    res = simulate(qemu_columns(rows))
    out = []
    for i, r in enumerate(rows):
        out.append(RunCheck(
            run_id=r["run_id"], converged=r["converged"] == "1",
            predicted_converged=bool(res["status"][i] == "completed"),
            total_time_s=float(r["total_time_ms"] or "nan") / 1e3,
            predicted_total_time_s=float(res["total_time_s"][i]),
            ram_bytes=float(r["ram_transferred_bytes"]),
            predicted_ram_bytes=float(res["memory_transferred_bytes"][i])))
    return out
