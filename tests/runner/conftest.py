"""Fixtures of the runner tests: spec files and small run directories made without Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from runner.storage import rundir
from runner.storage.rundir import Layout
from runner.sweep.spec import Spec, parse_spec
from runner.sweep.run import _manifest
from runner.sweep.task import run_batch

import models

SMALL_SPEC = """
name = "small"
seed = 11
memory = "8GiB"
[grid]
profile = ["vsphere-5.1", "hyperv-2012", "qemu", "xen"]
link = ["1GbE", "10GbE"]
dirty_rate = { logspace = ["10MB/s", "2GB/s"], num = 8 }
[zip]
disk = ["0GiB", "40GiB"]
storage = ["shared", "shared-nothing"]
"""


def build_run(spec: Spec, root: Path, batch_size: int | None = None,
              batches: list[int] | None = None) -> Layout:
    """Write a run directory for ``spec`` in-process (no Ray): every batch (complete) or only
    ``batches`` (status ``interrupted``), parts recorded in the ledger as the driver does."""
    layout = Layout(root, spec.n_points, spec.effective_batch_size(batch_size))
    fp = spec.fingerprint()
    man = _manifest(spec, layout, fp)
    rundir.create(root, spec.text, spec.resolved(), man)
    for b in range(layout.n_batches) if batches is None else batches:
        stats = run_batch(spec.plan, str(root), layout.n_points, layout.batch_size, b, fp,
                          models.MODEL_VERSION)
        rundir.append_ledger(root, {"batch": b, "files": stats["files"], "rows": stats["rows"],
                                    "points": stats["points"],
                                    "counts": {s: stats[s] for s in ("completed", "failed",
                                                                     "rejected")}})
    man["status"] = "complete" if batches is None else "interrupted"
    rundir.write_json(root / rundir.MANIFEST, man)
    return layout


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write TOML text to ``tmp_path/<name>.toml`` and return the path."""

    def write(text: str, name: str = "spec") -> Path:
        p = tmp_path / f"{name}.toml"
        p.write_text(text)
        return p

    return write


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete run directory of :data:`SMALL_SPEC` (128 points, 4 parts), made without Ray."""
    root = tmp_path_factory.mktemp("runs") / "small"
    build_run(parse_spec(SMALL_SPEC, "small.toml", "small"), root, batch_size=32)
    return root
