"""The unit of work of a sweep: evaluate one batch and commit it as a Parquet part.

:func:`run_batch` runs inside a Ray task (or in-process); it is idempotent — running it twice for
the same batch (a retry after a worker was killed) commits the same part again, atomically — and
returns only a few counters, so nothing proportional to the sweep travels back to the driver.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from models.fields import STATUSES
from runner.sweep.batch import evaluate
from runner.sweep.plan import Plan
from runner.storage.rundir import Layout, node_id, write_part


def run_batch(plan: Plan, root: str, n_points: int, batch_size: int, batch: int,
              fingerprint: str, model_version: str) -> dict[str, Any]:
    """Evaluate batch ``batch`` of a sweep and commit its part.

    Parameters
    ----------
    plan : Plan
        The sweep.
    root : str
        Run directory.
    n_points, batch_size : int
        Sweep size and points per batch (together they fix the batch bounds).
    batch : int
        Batch index.
    fingerprint : str
        Spec fingerprint, recorded in the part so ``--resume`` can trust it.
    model_version : str
        ``models.MODEL_VERSION``, recorded in the part.

    Returns
    -------
    dict
        ``batch``, ``rows``, ``points``, one count per status, ``node_id``, ``seconds`` and
        ``files`` (``{"results": record}``: the committed part's name, size, rows and sha256, for
        the driver's ledger).
    """
    t0 = time.perf_counter()
    layout = Layout(Path(root), n_points, batch_size)
    start, stop = layout.bounds(batch)
    table = evaluate(plan, start, stop)
    status = table.column("status")
    counts = {s: int(pc.sum(pc.equal(status, s)).as_py() or 0) for s in STATUSES}
    node = node_id()
    meta = {"batch": batch, "start": start, "stop": stop, "fingerprint": fingerprint,
            "model_version": model_version, "counts": counts, "node_id": node, "pid": os.getpid()}
    record = write_part(layout, batch, table, meta)
    return {"batch": batch, "rows": stop - start, "points": stop - start, **counts,
            "node_id": node, "seconds": time.perf_counter() - t0,
            "files": {layout.table: record}}
