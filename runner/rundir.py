"""The run directory: layout, manifest, and atomically committed Parquet parts.

Layout of ``results/<sweep-name>/``::

    spec.toml            the spec as the user wrote it
    spec.json            the resolved spec: every axis, fixed value and distribution in SI units
    run.json             manifest: model version, spec fingerprint, batch size, counts, status
    parts/part-000000.parquet, part-000001.parquet, ...   one file per batch

Part ``k`` holds points ``k*batch_size .. (k+1)*batch_size - 1`` in point order, so its name says
which points it holds; it is written under a temporary name in ``parts/`` and renamed when complete
(``os.replace``, atomic on POSIX), and its Parquet key-value metadata (``migsim``) records the
batch, the row counts by status and the node that wrote it. A rerun with ``--resume`` keeps every
part whose metadata matches and recomputes the rest; writing the same part twice (a retried task)
replaces it with identical content, so rows are never duplicated.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

import models
from models.fields import STATUSES
from runner.errors import RunDirError
from runner.schema import INPUT_COLUMNS, META_COLUMNS, SCHEMA

PARTS = "parts"
MANIFEST = "run.json"
SPEC_TOML = "spec.toml"
SPEC_JSON = "spec.json"
META_KEY = b"migsim"
TMP_SUFFIX = ".tmp"
#: Parquet compression of the parts: snappy (the Parquet default, read by every tool) writes a
#: sweep batch ~2x faster than zstd for ~20 % more bytes (~4x smaller than raw); writing is ~20 %
#: of the cost of a point.
COMPRESSION = "snappy"
#: Dictionary-encode only string columns: float columns are mostly distinct or constant, and
#: plain encoding + zstd is both smaller and ~40 % faster to write for them.
DICTIONARY_COLUMNS = [f.name for f in SCHEMA if pa.types.is_string(f.type)]
#: Min/max statistics (file pruning for filters) on what users filter by: the point, its inputs and
#: its status; not on the other outputs (saves ~15 % of the write).
STATISTICS_COLUMNS = list(META_COLUMNS + INPUT_COLUMNS) + ["status"]


@dataclass(frozen=True)
class Layout:
    """Where one run's files are.

    Attributes
    ----------
    root : Path
        The run directory.
    n_points : int
        Points of the sweep.
    batch_size : int
        Points per part (the last part may be shorter).
    """

    root: Path
    n_points: int
    batch_size: int

    @property
    def n_batches(self) -> int:
        """Number of parts of a complete run."""
        return -(-self.n_points // self.batch_size)

    @property
    def parts_dir(self) -> Path:
        """Directory of the Parquet parts."""
        return self.root / PARTS

    def bounds(self, batch: int) -> tuple[int, int]:
        """Half-open point range ``[start, stop)`` of a batch."""
        start = batch * self.batch_size
        return start, min(start + self.batch_size, self.n_points)

    def part_name(self, batch: int) -> str:
        """File name of a batch's part (zero-padded so names sort in point order)."""
        width = max(6, len(str(self.n_batches - 1)))
        return f"part-{batch:0{width}d}.parquet"

    def part_path(self, batch: int) -> Path:
        """Path of a batch's part."""
        return self.parts_dir / self.part_name(batch)


def write_part(layout: Layout, batch: int, table: pa.Table, meta: dict[str, Any]) -> Path:
    """Write a batch's table as its part: temporary file, then atomic rename.

    Parameters
    ----------
    layout : Layout
        The run.
    batch : int
        Batch index.
    table : pyarrow.Table
        The batch's rows.
    meta : dict
        JSON-able facts stored in the file's ``migsim`` metadata (counts, node, fingerprint).

    Returns
    -------
    Path
        The committed part.
    """
    final = layout.part_path(batch)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}")
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[META_KEY] = json.dumps(meta, sort_keys=True).encode()
    table = table.replace_schema_metadata(schema_meta)
    try:
        pq.write_table(table, tmp, compression=COMPRESSION, use_dictionary=DICTIONARY_COLUMNS,
                       write_statistics=STATISTICS_COLUMNS)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
    return final


def read_part_meta(path: Path) -> dict[str, Any] | None:
    """The ``migsim`` metadata of a part, or ``None`` if the file is unreadable or foreign."""
    try:
        md = pq.read_metadata(path)
        raw = (md.metadata or {}).get(META_KEY)
        if raw is None:
            return None
        meta = json.loads(raw)
        meta["num_rows"] = md.num_rows
        return meta
    except Exception:  # noqa: BLE001 - a truncated or foreign file is simply not a valid part
        return None


def part_is_valid(layout: Layout, batch: int, fingerprint: str) -> dict[str, Any] | None:
    """Metadata of a committed part if it belongs to this run and is complete, else ``None``."""
    path = layout.part_path(batch)
    if not path.is_file():
        return None
    meta = read_part_meta(path)
    start, stop = layout.bounds(batch)
    if (meta is None or meta.get("fingerprint") != fingerprint or meta.get("batch") != batch
            or meta.get("num_rows") != stop - start):
        return None
    return meta


def clean_temporaries(layout: Layout) -> int:
    """Remove temporary files left by interrupted writers; return how many."""
    n = 0
    if layout.parts_dir.is_dir():
        for p in layout.parts_dir.glob(f".part-*{TMP_SUFFIX}"):
            p.unlink(missing_ok=True)
            n += 1
    return n


def _strict(value: Any) -> Any:
    """Non-finite floats as strings ("inf"), so that the files are strict JSON (jq, browsers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write strict JSON atomically (temporary file, then rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    tmp.write_text(json.dumps(_strict(data), indent=2, default=str, allow_nan=False) + "\n")
    os.replace(tmp, path)


def read_manifest(root: Path) -> dict[str, Any]:
    """The manifest of a run directory.

    Raises
    ------
    RunDirError
        If ``root`` is not a migsim run directory.
    """
    path = root / MANIFEST
    if not path.is_file():
        what = "does not exist" if not root.exists() else f"is not a migsim run (no {MANIFEST})"
        raise RunDirError(f"{root}: {what}")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{path}: unreadable manifest: {exc}") from None


def is_run_dir(root: Path) -> bool:
    """True when ``root`` holds a migsim manifest."""
    return (root / MANIFEST).is_file()


def check_fresh(root: Path, force: bool) -> None:
    """Raise unless ``root`` can receive a new run (absent, empty, or a run to replace with force).

    Never accepts a non-empty directory that is not a migsim run: migsim does not delete what it
    did not create.
    """
    if not root.exists():
        return
    if not root.is_dir():
        raise RunDirError(f"{root}: exists and is not a directory")
    if not any(root.iterdir()):
        return
    if not is_run_dir(root):
        raise RunDirError(f"{root}: exists, is not empty and is not a migsim run; choose another --out")
    if not force:
        raise RunDirError(f"{root}: already holds a run; add --resume to finish it or --force "
                          f"to replace it")


def prepare_fresh(root: Path, force: bool) -> None:
    """:func:`check_fresh`, then remove the run being replaced."""
    check_fresh(root, force)
    if root.is_dir() and any(root.iterdir()):
        shutil.rmtree(root)


def create(root: Path, spec_text: str, resolved: dict[str, Any], manifest: dict[str, Any]) -> None:
    """Create the run directory with its spec files and initial manifest."""
    (root / PARTS).mkdir(parents=True, exist_ok=True)
    (root / SPEC_TOML).write_text(spec_text)
    write_json(root / SPEC_JSON, resolved)
    write_json(root / MANIFEST, manifest)


def now() -> str:
    """UTC timestamp for manifests."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def migsim_version() -> str:
    """The installed migsim version (``"unknown"`` when it cannot be read)."""
    try:
        from importlib.metadata import version
        return version("migsim")
    except Exception:  # noqa: BLE001
        return "unknown"


def base_manifest(kind: str, name: str, spec_source: str | None, fingerprint: str,
                  layout: Layout) -> dict[str, Any]:
    """The fields every run manifest starts with (a new run: status ``running``).

    Callers add their own fields after these (``counts``, ``wall_s``, ...), in file order.
    """
    return {
        "kind": kind, "format": 1, "name": name, "spec_source": spec_source,
        "fingerprint": fingerprint, "model_version": models.MODEL_VERSION,
        "migsim_version": migsim_version(), "n_points": layout.n_points,
        "batch_size": layout.batch_size, "n_batches": layout.n_batches,
        "created": now(), "updated": now(), "status": "running",
    }


def resume_layout(root: Path, n_points: int, fingerprint: str, batch_size: int | None, *,
                  kind: str | None = None, what: str = "spec (or seed)"
                  ) -> tuple[Layout, dict[str, Any]]:
    """Check that an existing run can be resumed; return its layout and manifest.

    Parameters
    ----------
    root : Path
        The run directory (holding a manifest).
    n_points : int
        Points of the spec being resumed.
    fingerprint : str
        The spec's fingerprint; must match the manifest's.
    batch_size : int, optional
        The batch size asked for; when given, must match the manifest's.
    kind : str, optional
        The manifest kind required, ``migsim-<label>-run`` (``None``: not checked).
    what : str
        What made the run, for the message on a fingerprint mismatch.

    Raises
    ------
    RunDirError
        If the run has another kind, spec, model version or batch size.
    """
    man = read_manifest(root)
    if kind is not None and man.get("kind") != kind:
        label = kind.removeprefix("migsim-").removesuffix("-run")
        raise RunDirError(f"{root}: is not a {label} run (it is a {man.get('kind', 'foreign')} "
                          f"run); choose another --out")
    if man.get("fingerprint") != fingerprint:
        raise RunDirError(f"{root}: was made from a different {what}; rerun without "
                          f"--resume and with --force to replace it, or choose another --out")
    if man.get("model_version") != models.MODEL_VERSION:
        raise RunDirError(f"{root}: was made with model version {man.get('model_version')}, this "
                          f"is {models.MODEL_VERSION}; use --force to recompute it")
    bs = int(man["batch_size"])
    if batch_size is not None and batch_size != bs:
        raise RunDirError(f"{root}: was made with --batch-size {bs}; resume with the same batch "
                          f"size (or leave it out)")
    return Layout(root, n_points, bs), man


def mark_interrupted(root: Path, manifest: dict[str, Any], **fields: Any) -> None:
    """Record ``status: interrupted`` (and ``fields``) in the manifest, best effort."""
    manifest.update(status="interrupted", updated=now(), **fields)
    try:
        write_json(root / MANIFEST, manifest)
    except OSError:
        pass


def node_id() -> str:
    """The Ray node id of this process, else the host name (provenance of parts)."""
    try:
        import ray
        if ray.is_initialized():
            return ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - provenance only
        pass
    return socket.gethostname()


#: Default parent of run directories (relative to the working directory).
RESULTS = Path("results")


def default_out(name: str) -> Path:
    """``results/<run-name>``: where a sweep or scenario writes when ``--out`` is not given."""
    return RESULTS / name


@dataclass
class RunResult:
    """What a run (sweep or scenario) produced; the kinds add their own fields.

    Attributes
    ----------
    root : Path
        Run directory.
    n_points, n_batches : int
        Points and parts of the run.
    counts : dict
        Result rows per status over the whole run (resumed parts included).
    computed_points : int
        Points computed by this invocation.
    resumed_batches : int
        Parts kept from an earlier invocation.
    wall_s : float
        Wall time of this invocation, seconds (Ray start-up included).
    nodes : set of str
        Ray nodes that did work in this invocation.
    """

    root: Path
    n_points: int
    n_batches: int
    counts: dict[str, int] = field(default_factory=lambda: {s: 0 for s in STATUSES})
    computed_points: int = 0
    resumed_batches: int = 0
    wall_s: float = 0.0
    nodes: set[str] = field(default_factory=set)

    @property
    def failed(self) -> int:
        """Result rows with status ``failed``."""
        return self.counts.get("failed", 0)

    def add(self, counts: dict[str, Any]) -> None:
        """Add a part's rows per status (``counts``: status name to rows; others ignored)."""
        for s in STATUSES:
            self.counts[s] += int(counts.get(s, 0))

    def keep(self, parts: dict[int, dict[str, Any]]) -> None:
        """Count the parts kept from an earlier invocation (part index to its metadata)."""
        for meta in parts.values():
            self.add(meta.get("counts", {}))
        self.resumed_batches = len(parts)

