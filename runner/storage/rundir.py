"""The run directory: layout, marker, lock, part ledger and atomically committed Parquet parts.

Layout (run format 2)::

    RUN/
      run.json             marker and manifest: {"format": "migsim-run", "format_version": 2,
                           "kind": ..., counts, status, versions of migsim/model/libraries, ...}
      spec.toml            the spec as the user wrote it
      spec.json            the resolved spec (axes longer than LONG_AXIS values: summary + sha256)
      results/             a sweep's table: part-000000.parquet, part-000001.parquet, ... only
      migrations/ scenarios/ hosts/     a scenario run's three tables (same rule)
      .migsim/
        lock               exclusive flock held by the one writer; holds its pid, host, command
        parts.jsonl        the ledger: one line per committed batch (file, size, rows, sha256)
        staging/           temporary files, renamed into a table directory when complete

Each table directory holds nothing but ``part-*.parquet`` files, so ``pl.scan_parquet("RUN/results")``,
``pyarrow.dataset.dataset("RUN/results")`` and DuckDB's ``read_parquet('RUN/results/*.parquet')``
read it as is. Part ``k`` holds points ``k*batch_size .. (k+1)*batch_size - 1`` in point order.

Safety rules:

- **Marker.** A directory is migsim's only if ``run.json`` is an object with
  ``format = "migsim-run"`` and a known ``format_version``, and passes :func:`validate_manifest`.
  ``--force`` and ``--resume`` act only on such directories, and only when they hold nothing
  migsim does not know (:func:`inspect`); otherwise they refuse, listing what they found.
- **One writer.** :class:`RunLock` is an exclusive ``fcntl.flock`` on ``.migsim/lock``, held for
  the whole run and released by the kernel if the process dies; a second writer is refused with
  the holder's pid, host and command.
- **Trusted parts.** A worker writes its part in ``.migsim/staging/``, computes its size, rows and
  sha256, renames it into its table directory (``os.replace``, atomic) and returns the record;
  the driver appends it to the ledger. ``--resume`` keeps a part only if its size and sha256 match
  the ledger (else it is named and recomputed); readers check sizes always and checksums with
  ``--verify``. A part on disk that the ledger does not list (its worker committed it after the
  driver stopped) is not read by queries; ``--resume`` keeps it only if its metadata names this
  run, batch and point range and every page decodes, and records it then.
- **Force never deletes in place.** ``--force`` moves the old run aside to ``RUN.old-<pid>`` (a
  sibling, same filesystem) and builds the new run in ``RUN``; the old one is deleted only when the
  new run is complete (by this invocation or a later ``--resume``). Interrupted, the new run is
  resumable and the old one is still there.
- **Half-made directories.** ``run.json`` is written last when a run is created, so a directory
  holding only migsim's own files and no ``run.json`` (creation interrupted, disk full while
  writing ``spec.json``) had nothing computed: a plain run, ``--resume`` or ``--force`` starts it
  anew, saying so.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import math
import os
import re
import shutil
import socket
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

import models
from models.errors import MigsimError
from models.fields import STATUSES
from runner.errors import RunDirError, RunFailure, RunLockedError
from runner.storage.schema import INPUT_COLUMNS, META_COLUMNS, SCHEMA

MANIFEST = "run.json"
SPEC_TOML = "spec.toml"
SPEC_JSON = "spec.json"
INTERNAL = ".migsim"
LOCK = "lock"
LEDGER = "parts.jsonl"
STAGING = "staging"
#: The marker: ``run.json`` names this format and its version.
FORMAT = "migsim-run"
FORMAT_VERSION = 2
#: Table of a sweep run, and the tables of a scenario run (the first is the main one).
SWEEP_TABLES = ("results",)
SCENARIO_TABLES = ("migrations", "scenarios", "hosts")
MEASURE_TABLES = ("runs",)
FRONTIER_TABLES = ("frontier",)   # migsim frontier (runner.answers.frontier)
ALL_TABLES = SWEEP_TABLES + SCENARIO_TABLES + MEASURE_TABLES + FRONTIER_TABLES
#: What else a kind of run keeps at its top level (name -> "file" or "dir" of files): a measurement
#: run (runner.measure) has its data set's conditions, all runs as one CSV, and QEMU's samples.
KIND_EXTRAS: dict[str, dict[str, str]] = {
    "migsim-measure-run": {"conditions.json": "file", "runs.csv": "file", "samples": "dir"}}
#: Kinds of run (``run.json`` ``kind``) and their tables.
KIND_TABLES = {"migsim-sweep-run": SWEEP_TABLES, "migsim-scenario-run": SCENARIO_TABLES,
               "migsim-measure-run": MEASURE_TABLES, "migsim-frontier-run": FRONTIER_TABLES}
#: Directory of the parts in run format 1 (before tables had their own directories).
OLD_PARTS = "parts"
META_KEY = b"migsim"
TMP_SUFFIX = ".tmp"
PART_RE = re.compile(r"^part-\d{6,}\.parquet$")
_TMP_RE = re.compile(r"^\..+\.tmp$")
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
#: Largest ``spec.json`` written before the first part (bytes).
MAX_SPEC_JSON = 64 * 2**20
_HASH_CHUNK = 4 * 2**20
#: errno values that mean "the path the user gave cannot hold a run" (exit 2), not a run failure.
_PATH_ERRNOS = {errno.ENOTDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.EROFS,
                errno.ENOENT, errno.ENAMETOOLONG, errno.ELOOP, errno.EISDIR, errno.EINVAL,
                errno.EXDEV}


# ====================================================================== layout
@dataclass(frozen=True)
class Layout:
    """Where one table of one run keeps its parts.

    Attributes
    ----------
    root : Path
        The run directory.
    n_points : int
        Points of the run.
    batch_size : int
        Points per part (the last part may be shorter).
    table : str
        The table (``results`` for sweeps; ``migrations``, ``scenarios``, ``hosts``).
    """

    root: Path
    n_points: int
    batch_size: int
    table: str = "results"

    @property
    def n_batches(self) -> int:
        """Number of parts of a complete run."""
        return -(-self.n_points // self.batch_size)

    @property
    def table_dir(self) -> Path:
        """Directory of the table's Parquet parts (nothing else lives there)."""
        return self.root / self.table

    parts_dir = table_dir

    @property
    def staging_dir(self) -> Path:
        """Directory of temporary files (outside every table directory)."""
        return self.root / INTERNAL / STAGING

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
        return self.table_dir / self.part_name(batch)

    def with_table(self, table: str) -> "Layout":
        """The same run and batching, another table."""
        return Layout(self.root, self.n_points, self.batch_size, table)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def write_part(layout: Layout, batch: int, table: pa.Table, meta: dict[str, Any]) -> dict[str, Any]:
    """Write a batch's table as its part: a file in staging, checksummed, then renamed into place.

    Parameters
    ----------
    layout : Layout
        The run and table.
    batch : int
        Batch index.
    table : pyarrow.Table
        The batch's rows.
    meta : dict
        JSON-able facts stored in the file's ``migsim`` metadata (counts, node, fingerprint).

    Returns
    -------
    dict
        The part's record for the ledger: ``name`` (file name), ``size`` (bytes), ``rows`` and
        ``sha256`` (hex) of the committed file.
    """
    final = layout.part_path(batch)
    staging = layout.staging_dir
    staging.mkdir(parents=True, exist_ok=True)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging / f".{layout.table}.{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}"
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[META_KEY] = json.dumps(meta, sort_keys=True).encode()
    table = table.replace_schema_metadata(schema_meta)
    try:
        pq.write_table(table, tmp, compression=COMPRESSION, use_dictionary=DICTIONARY_COLUMNS,
                       write_statistics=STATISTICS_COLUMNS)
        record = {"name": final.name, "size": tmp.stat().st_size, "rows": table.num_rows,
                  "sha256": file_sha256(tmp)}
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
    return record


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


# ====================================================================== ledger
def ledger_path(root: Path) -> Path:
    """The part ledger of a run."""
    return root / INTERNAL / LEDGER


def append_ledger(root: Path, record: dict[str, Any]) -> None:
    """Record a committed batch (driver side): one JSON line, flushed.

    Parameters
    ----------
    root : Path
        Run directory.
    record : dict
        ``batch``, ``counts``, ``rows``, ``points`` and ``files`` (table -> part record of
        :func:`write_part`).
    """
    line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    with open(ledger_path(root), "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()


def read_ledger(root: Path) -> dict[int, dict[str, Any]]:
    """Committed batches by index (the last record of a batch wins; a torn last line is skipped)."""
    out: dict[int, dict[str, Any]] = {}
    try:
        text = ledger_path(root).read_text(encoding="utf-8")
    except FileNotFoundError:
        return out
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{ledger_path(root)}: unreadable part ledger: {exc}") from None
    for line in text.splitlines():
        try:
            rec = json.loads(line)
            b = rec["batch"]
            files = rec["files"]
            if isinstance(b, int) and not isinstance(b, bool) and isinstance(files, dict) and all(
                    isinstance(f, dict) and isinstance(f.get("name"), str)
                    and isinstance(f.get("size"), int) for f in files.values()):
                out[b] = rec
        except (ValueError, KeyError, TypeError):
            continue
    return out


def check_part(path: Path, rec: dict[str, Any], full: bool) -> str | None:
    """What is wrong with a committed part, or ``None`` (size always; sha256 when ``full``)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if size != rec.get("size"):
        return f"damaged: {size:,} bytes, {rec.get('size'):,} when it was written"
    if full:
        try:
            digest = file_sha256(path)
        except OSError as exc:
            return f"unreadable ({exc.strerror or exc})"
        if digest != rec.get("sha256"):
            return "damaged: its sha256 differs from the one recorded when it was written"
    return None


def verified_batches(root: Path, layout: Layout, tables: Iterable[str], *, full: bool = True,
                     on_damaged: Callable[[Path, str], None] | None = None
                     ) -> dict[int, dict[str, Any]]:
    """Batches whose every part is committed and intact (ledger record by batch).

    Parameters
    ----------
    root : Path
        Run directory.
    layout : Layout
        The run's batching (any table).
    tables : iterable of str
        Tables a batch writes a part to.
    full : bool
        Compare sha256 checksums too (``--resume``), not only sizes.
    on_damaged : callable, optional
        Called with a damaged part's path and what is wrong (missing parts are not reported).
    """
    tables = tuple(tables)
    out: dict[int, dict[str, Any]] = {}
    for b, rec in read_ledger(root).items():
        if not 0 <= b < layout.n_batches:
            continue
        start, stop = layout.bounds(b)
        ok = True
        for t in tables:
            frec = rec["files"].get(t)
            path = layout.with_table(t).part_path(b)
            if frec is None or frec.get("name") != path.name:
                ok = False
                break
            problem = check_part(path, frec, full)
            if problem is not None:
                if problem != "missing" and on_damaged is not None:
                    on_damaged(path, problem)
                ok = False
                break
        if ok and rec.get("points", stop - start) == stop - start:
            out[b] = rec
    return out


def adopt_unrecorded(root: Path, layout: Layout, tables: Iterable[str], fingerprint: str,
                     skip: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Keep the parts that workers committed after their driver stopped (so the ledger never got
    their records): a batch absent from the ledger whose every part has this run's metadata
    (fingerprint, batch, point range) and decodes in full is recorded now and kept.

    Returns the ledger records of the batches adopted.
    """
    tables = tuple(tables)
    recorded = set(read_ledger(root)) | set(skip)
    out: dict[int, dict[str, Any]] = {}
    for b in range(layout.n_batches):
        if b in recorded:
            continue
        start, stop = layout.bounds(b)
        files: dict[str, Any] = {}
        meta: dict[str, Any] | None = None
        for t in tables:
            path = layout.with_table(t).part_path(b)
            m = read_part_meta(path) if path.is_file() else None
            if m is None or m.get("fingerprint") != fingerprint or m.get("batch") != b or \
                    m.get("start") != start or m.get("stop") != stop:
                break
            try:
                rows = pq.read_table(path).num_rows   # every page decodes
            except Exception:  # noqa: BLE001 - damaged: recomputed
                break
            files[t] = {"name": path.name, "size": path.stat().st_size, "rows": rows,
                        "sha256": file_sha256(path)}
            meta = meta or m
        else:
            if meta is None:
                continue
            rec = {"batch": b, "files": files, "rows": int(meta.get("rows", stop - start)),
                   "points": stop - start,
                   "counts": {s: int(meta.get("counts", {}).get(s, 0)) for s in STATUSES}}
            if tables[0] == "results" and files["results"]["rows"] != stop - start:
                continue
            append_ledger(root, rec)
            out[b] = rec
    return out


def clean_staging(root: Path) -> int:
    """Remove temporary files left by interrupted writers (lock holder only); return how many."""
    n = 0
    staging = root / INTERNAL / STAGING
    if staging.is_dir():
        for p in staging.iterdir():
            if p.is_file() or p.is_symlink():
                p.unlink(missing_ok=True)
                n += 1
    return n


# ====================================================================== JSON files
def _strict(value: Any) -> Any:
    """Non-finite floats as strings ("inf"), so that the files are strict JSON (jq, browsers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def dumps(data: Any) -> str:
    """Strict JSON text of ``data`` (indented)."""
    return json.dumps(_strict(data), indent=2, default=str, allow_nan=False) + "\n"


def write_json(path: Path, data: Any, text: str | None = None) -> None:
    """Write strict JSON atomically (temporary file in the run's staging, then rename)."""
    text = dumps(data) if text is None else text
    staging = path.parent / INTERNAL / STAGING
    tmp_dir = staging if staging.is_dir() else path.parent
    tmp = tmp_dir / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}{TMP_SUFFIX}"
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


# ====================================================================== marker
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def validate_manifest(where: Path, data: Any) -> dict[str, Any]:
    """Check ``run.json`` against its schema; return it.

    Raises
    ------
    RunDirError
        One line naming the key, the value and what is allowed (a list instead of an object,
        another tool's ``run.json`` without migsim's marker, a string ``n_batches``, ...).
    """
    def bad(key: str, allowed: str) -> RunDirError:
        shown = repr(data.get(key)) if isinstance(data, dict) else type(data).__name__
        return RunDirError(f"{where}: {key}: invalid value {shown[:80]}; allowed: {allowed}")

    if not isinstance(data, dict):
        raise RunDirError(f"{where}: is not a migsim run manifest (a JSON {type(data).__name__}, "
                          f"not an object)")
    fmt = data.get("format")
    if fmt == 1 and data.get("kind") in KIND_TABLES:
        raise RunDirError(f"{where.parent}: was made by an older migsim (run format 1, parts/ "
                          f"directory); recompute it with --force or choose another --out")
    if fmt != FORMAT:
        raise RunDirError(f"{where.parent}: is not a migsim run ({where.name} has no "
                          f"\"format\": \"{FORMAT}\" marker; another tool's file?)")
    if data.get("format_version") != FORMAT_VERSION:
        raise bad("format_version", f"{FORMAT_VERSION} (this migsim reads run format "
                                    f"{FORMAT_VERSION} only)")
    if data.get("kind") not in KIND_TABLES:
        raise bad("kind", " or ".join(KIND_TABLES))
    for key in ("n_points", "batch_size", "n_batches"):
        v = data.get(key)
        if not _is_int(v) or v < (0 if key != "batch_size" else 1):
            raise bad(key, "an integer >= " + ("1" if key == "batch_size" else "0"))
    if data["n_batches"] != -(-data["n_points"] // data["batch_size"]):
        raise bad("n_batches", f"ceil(n_points / batch_size) = "
                               f"{-(-data['n_points'] // data['batch_size'])}")
    for key in ("fingerprint", "status", "model_version"):
        if not isinstance(data.get(key), str):
            raise bad(key, "a string")
    counts = data.get("counts", {})
    if not isinstance(counts, dict) or not all(_is_int(v) for v in counts.values()):
        raise bad("counts", "an object of integer counts per status")
    tables = data.get("tables")
    if tables != list(KIND_TABLES[data["kind"]]):
        raise bad("tables", str(list(KIND_TABLES[data["kind"]])))
    return data


def read_manifest(root: Path) -> dict[str, Any]:
    """The validated manifest of a run directory.

    Raises
    ------
    RunDirError
        If ``root`` is not a migsim run directory (missing, no ``run.json``, no marker, bad schema).
    """
    path = root / MANIFEST
    if not path.is_file():
        if not root.exists():
            raise RunDirError(f"{root}: does not exist")
        if not root.is_dir():
            raise RunDirError(f"{root}: is not a directory")
        state = inspect(root)
        if state.kind == "half-made":
            raise RunDirError(f"{root}: a half-made run directory (its creation was interrupted; "
                              f"nothing was computed); start it with --resume or --force, or "
                              f"remove it")
        raise RunDirError(f"{root}: is not a migsim run (no {MANIFEST})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RunDirError(f"{path}: unreadable manifest: {msg}") from None
    return validate_manifest(path, data)


def up_to_date(root: Path, kind: str, fingerprint: str) -> bool:
    """True when ``root`` holds a complete run of this kind, spec and model version: rerunning the
    same command then has nothing to compute (it resumes, verifying the parts, and exits 0)."""
    try:
        man = read_manifest(root)
    except MigsimError:
        return False
    return (man.get("kind") == kind and man.get("fingerprint") == fingerprint
            and man.get("model_version") == models.MODEL_VERSION
            and man.get("status") == "complete")


def is_run_dir(root: Path) -> bool:
    """True when ``root`` holds a valid migsim manifest (the marker)."""
    try:
        read_manifest(root)
        return True
    except RunDirError:
        return False


# ====================================================================== what is in a directory
@dataclass
class DirState:
    """What a directory holds, as far as migsim is concerned.

    Attributes
    ----------
    kind : str
        ``absent``, ``not-dir``, ``empty``, ``half-made`` (only migsim's own files, no
        ``run.json``), ``run`` (marker and known contents), ``old-run`` (run format 1),
        ``not-migsim`` (a ``run.json`` without the marker, or a bad one), ``foreign`` (anything
        else).
    unknown : list of str
        Entries migsim did not write (relative paths, first ones).
    problem : str
        Why the manifest was refused (``not-migsim``).
    """

    kind: str
    unknown: list[str] = field(default_factory=list)
    problem: str = ""


def _unknown_entries(root: Path, table_dirs: Iterable[str], limit: int = 8,
                     extras: dict[str, str] | None = None) -> list[str]:
    """Entries of ``root`` that are not migsim's (relative paths; at most ``limit``); ``extras``:
    what the kind of run keeps beside its tables (``KIND_EXTRAS``)."""
    tables = set(table_dirs)
    extras = extras or {}
    known_files = {MANIFEST, SPEC_TOML, SPEC_JSON} | {k for k, v in extras.items() if v == "file"}
    out: list[str] = []

    def add(p: str) -> bool:
        out.append(p)
        return len(out) >= limit

    for p in sorted(root.iterdir(), key=lambda x: x.name):
        name = p.name
        if name in known_files and p.is_file() and not p.is_symlink():
            continue
        if _TMP_RE.match(name) and p.is_file():
            continue
        if name == INTERNAL and p.is_dir() and not p.is_symlink():
            for q in sorted(p.iterdir(), key=lambda x: x.name):
                if q.name in (LOCK, LEDGER) and q.is_file():
                    continue
                if q.name == STAGING and q.is_dir() and not q.is_symlink():
                    for r in q.iterdir():
                        if not (r.is_file() and _TMP_RE.match(r.name)) and add(
                                f"{INTERNAL}/{STAGING}/{r.name}"):
                            return out
                    continue
                if _TMP_RE.match(q.name) and q.is_file():
                    continue
                if add(f"{INTERNAL}/{q.name}"):
                    return out
            continue
        if extras.get(name) == "dir" and p.is_dir() and not p.is_symlink():
            for q in p.iterdir():
                if not (q.is_file() or _TMP_RE.match(q.name)) and add(f"{name}/{q.name}"):
                    return out
            continue
        if name in tables and p.is_dir() and not p.is_symlink():
            for q in p.iterdir():
                ok = q.is_file() and not q.is_symlink() and (
                    PART_RE.match(q.name) or (name == OLD_PARTS and _TMP_RE.match(q.name)))
                if not ok and add(f"{name}/{q.name}"):
                    return out
            continue
        if add(name + ("/" if p.is_dir() else "")):
            return out
    return out


def inspect(root: Path) -> DirState:
    """Classify a directory (see :class:`DirState`); never writes."""
    if not root.exists() and not root.is_symlink():
        return DirState("absent")
    if not root.is_dir():
        return DirState("not-dir")
    try:
        entries = list(root.iterdir())
    except OSError as exc:
        return DirState("foreign", problem=f"cannot list it: {exc.strerror or exc}")
    if not entries:
        return DirState("empty")
    man_path = root / MANIFEST
    if man_path.is_file():
        try:
            data = json.loads(man_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return DirState("not-migsim", problem=f"unreadable {MANIFEST}: "
                                                  f"{str(exc).splitlines()[0] if str(exc) else exc}")
        if isinstance(data, dict) and data.get("format") == 1 and data.get("kind") in KIND_TABLES:
            unknown = _unknown_entries(root, (OLD_PARTS, "scenarios", "hosts"))
            return DirState("foreign" if unknown else "old-run", unknown)
        try:
            validate_manifest(man_path, data)
        except RunDirError as exc:
            return DirState("not-migsim", problem=str(exc))
        unknown = _unknown_entries(root, KIND_TABLES[data["kind"]],
                                   extras=KIND_EXTRAS.get(data["kind"]))
        return DirState("foreign" if unknown else "run", unknown)
    unknown = _unknown_entries(root, ALL_TABLES,
                               extras={k: v for e in KIND_EXTRAS.values() for k, v in e.items()})
    if unknown:
        return DirState("foreign", unknown)
    # only migsim's names, and no run.json: a half-made directory if no part was committed
    has_parts = any((root / t).is_dir() and any((root / t).iterdir()) for t in ALL_TABLES)
    return DirState("foreign" if has_parts else "half-made",
                    [f"{t}/" for t in ALL_TABLES if (root / t).is_dir() and any((root / t).iterdir())])


def describe_state(root: Path) -> str:
    """What ``--dry-run`` says of an output directory."""
    st = inspect(root)
    return {
        "absent": "will be created",
        "empty": "exists, empty",
        "not-dir": "exists and is not a directory: choose another --out",
        "half-made": "a half-made run (creation interrupted; nothing computed): it will be "
                     "started anew",
        "run": "exists: a run (use --resume or --force)",
        "old-run": "exists: a run of an older migsim (use --force to recompute it)",
    }.get(st.kind, "exists and is not a migsim run: choose another --out")


def _found(st: DirState) -> str:
    shown = ", ".join(st.unknown[:6]) + (", ..." if len(st.unknown) > 6 else "")
    return f"found {shown}" if shown else (st.problem or "not migsim's")


# ====================================================================== the lock
def _holder_text() -> str:
    cmd = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:300]
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": cmd,
                       "since": now()})


class RunLock:
    """The exclusive lock of a run directory: ``fcntl.flock`` on ``RUN/.migsim/lock``.

    Held for the life of the run; the kernel releases it when the process exits or dies. The
    holder writes its pid, host, command and start time into the file, so a refused process can
    say who holds it.

    Parameters
    ----------
    root : Path
        The run directory (created if needed, with its ``.migsim`` directory).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / INTERNAL / LOCK
        self.fd: int | None = None

    def acquire(self) -> "RunLock":
        """Take the lock or raise :class:`RunLockedError` naming the holder."""
        make_dirs(self.path.parent)
        for _ in range(20):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise path_error(self.root, exc) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise RunLockedError(f"{self.root}: in use by another migsim process "
                                     f"({self.holder()}); wait for it to finish or stop it, or "
                                     f"choose another --out") from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if not same:  # the directory was moved or replaced between open and flock
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, _holder_text().encode(), 0)
            self.fd = fd
            return self
        raise RunLockedError(f"{self.root}: its lock keeps changing (another process is "
                             f"replacing the directory); try again")

    def check_free(self) -> None:
        """Raise :class:`RunLockedError` if another process holds the lock (writes nothing)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(f"{self.root}: in use by another migsim process "
                                 f"({self.holder()}); wait for it to finish or stop it, or "
                                 f"choose another --out") from None
        finally:
            os.close(fd)

    def holder(self) -> str:
        """Who holds the lock, from its file (``"pid ? on ?"`` if it has not written yet)."""
        info: dict[str, Any] = {}
        for _ in range(20):
            try:
                info = json.loads(self.path.read_text())
                break
            except (OSError, ValueError):
                time.sleep(0.05)
        return (f"pid {info.get('pid', '?')} on {info.get('host', '?')} since "
                f"{info.get('since', '?')}: {info.get('command', '?')}")

    def release(self) -> None:
        """Release the lock (the file stays; it holds no secret)."""
        if self.fd is not None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            finally:
                os.close(self.fd)
                self.fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


# ====================================================================== paths and errors
def path_error(root: Path, exc: OSError) -> MigsimError:
    """An ``OSError`` on the run directory as a one-line error: the user's path (exit 2) or a
    failure of the run (disk full, I/O error: exit 3)."""
    what = exc.strerror or type(exc).__name__
    where = exc.filename or root
    if exc.errno in _PATH_ERRNOS:
        return RunDirError(f"--out {root}: cannot use it as a run directory: {where}: {what}")
    hint = " (disk full?)" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
    return RunFailure(f"{root}: {where}: {what}{hint}; committed parts are kept: fix the cause "
                      f"and rerun with --resume")


def make_dirs(path: Path) -> None:
    """``mkdir -p`` with a one-line error naming the first component that is not a directory."""
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise RunDirError(f"--out {path.parent if path.name == INTERNAL else path}: "
                          f"{probe} is a file, not a directory; choose another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise path_error(path, exc) from None


def check_out_path(root: Path) -> None:
    """Fail fast (before Ray starts, writing nothing) when ``--out`` cannot become a directory."""
    probe = root
    while not probe.exists() and not probe.is_symlink() and probe.parent != probe:
        probe = probe.parent
    if probe == root and root.exists() and not root.is_dir():
        raise RunDirError(f"--out {root}: exists and is not a directory; choose another --out")
    if probe != root and not probe.is_dir():
        raise RunDirError(f"--out {root}: {probe} is a file, not a directory; choose another --out")
    target = root if probe == root else probe
    resolved = target.resolve()
    if resolved.parts[:2] in (("/", "proc"), ("/", "sys")) or not os.access(target, os.W_OK | os.X_OK):
        raise RunDirError(f"--out {root}: {target} is not writable; choose another --out")


# ====================================================================== opening a run
def migsim_version() -> str:
    """The installed migsim version (``"unknown"`` when it cannot be read)."""
    return _dist_version("migsim")


def _dist_version(name: str) -> str:
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # noqa: BLE001
        return "unknown"


def versions() -> dict[str, str]:
    """Versions that decide a run's rows: migsim, the model, Python and the libraries."""
    out = {"migsim": migsim_version(), "model": str(models.MODEL_VERSION),
           "python": ".".join(map(str, sys.version_info[:3]))}
    for lib in ("ray", "polars", "pyarrow", "numpy", "numba"):
        out[lib] = _dist_version(lib)
    return out


def now() -> str:
    """UTC timestamp for manifests."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def base_manifest(kind: str, name: str, spec_source: str | None, fingerprint: str,
                  layout: Layout) -> dict[str, Any]:
    """The fields every run manifest starts with (a new run: status ``running``).

    Callers add their own fields after these (``counts``, ``wall_s``, ...), in file order.
    """
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "kind": kind, "tables": list(KIND_TABLES[kind]), "name": name, "spec_source": spec_source,
        "fingerprint": fingerprint, "model_version": str(models.MODEL_VERSION),
        "migsim_version": migsim_version(), "versions": versions(),
        "n_points": layout.n_points, "batch_size": layout.batch_size,
        "n_batches": layout.n_batches, "created": now(), "updated": now(), "status": "running",
    }


@dataclass
class OpenRun:
    """A run directory opened for writing, its lock held.

    Attributes
    ----------
    root : Path
        Run directory.
    layout : Layout
        Batching of the run (its main table).
    manifest : dict
        ``run.json`` as it will be written.
    existing : dict
        Batches kept from an earlier invocation (ledger records by batch index).
    notes : list of str
        What the caller should tell the user (a half-made directory started anew, damaged parts
        that will be recomputed, an old run moved aside).
    """

    root: Path
    layout: Layout
    manifest: dict[str, Any]
    existing: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    locks: list[RunLock] = field(default_factory=list)
    created: bool = False
    created_root: bool = False
    replaced: Path | None = None

    def record(self, stats: dict[str, Any]) -> None:
        """Record a committed batch in the ledger (its counters as the task returned them)."""
        rec = {"batch": int(stats["batch"]), "files": stats["files"],
               "rows": int(stats.get("rows", 0)), "points": int(stats.get("points", 0)),
               "counts": {s: int(stats.get(s, 0)) for s in STATUSES}}
        try:
            append_ledger(self.root, rec)
        except OSError as exc:
            raise path_error(self.root, exc) from None

    def save(self, **fields: Any) -> None:
        """Update and write the manifest."""
        self.manifest.update(updated=now(), **fields)
        try:
            write_json(self.root / MANIFEST, self.manifest)
        except OSError as exc:
            raise path_error(self.root, exc) from None

    def interrupted(self, status: str = "interrupted", **fields: Any) -> None:
        """Record ``status: interrupted`` (or ``failed``; best effort), release the lock."""
        try:
            self.manifest.update(status=status, updated=now(), **fields)
            write_json(self.root / MANIFEST, self.manifest)
        except OSError:
            pass
        self.release()

    def complete(self, **fields: Any) -> None:
        """Record ``status: complete``, delete the run this one replaced, release the lock."""
        try:
            self.save(status="complete", **fields)
            clean_staging(self.root)
            old = self.manifest.get("replacing")
            if old:
                gone = self.root.parent / old
                if inspect(gone).kind in ("run", "old-run"):
                    held = [lk for lk in self.locks if lk.root == gone]
                    try:
                        other = None if held else RunLock(gone).acquire()
                    except RunDirError:
                        self.notes.append(f"{gone}: the replaced run is in use; not deleted")
                    else:
                        shutil.rmtree(gone, ignore_errors=True)
                        if other is not None:
                            other.release()
                self.manifest.pop("replacing", None)
                self.save()
        finally:
            self.release()

    def release(self) -> None:
        """Release every lock held."""
        for lk in self.locks:
            lk.release()
        self.locks.clear()

    def abandon(self) -> None:
        """Undo a run created by this invocation that committed nothing (Ray did not start)."""
        try:
            if self.created and not self.existing and not read_ledger(self.root) and \
                    not self.manifest.get("replacing"):
                st = inspect(self.root)
                if st.kind in ("run", "half-made"):
                    for name in (MANIFEST, SPEC_TOML, SPEC_JSON, *ALL_TABLES, INTERNAL):
                        p = self.root / name
                        if p.is_dir():
                            shutil.rmtree(p, ignore_errors=True)
                        else:
                            p.unlink(missing_ok=True)
                    if self.created_root:
                        try:
                            self.root.rmdir()
                        except OSError:
                            pass
        finally:
            self.release()


def open_run(root: Path, *, kind: str, n_points: int, batch_size: int | None,
             default_batch_size: int, fingerprint: str, resume: bool, force: bool,
             new_manifest: Callable[[Layout], dict[str, Any]], spec_text: str,
             resolved: Callable[[], dict[str, Any]], what: str = "spec (or seed)",
             on_damaged: Callable[[Path, str], None] | None = None) -> OpenRun:
    """Open ``root`` for a run: check it, take its lock, and create, resume or replace it.

    Nothing is written when the directory is refused. ``--resume`` on a directory without a run
    (absent, empty or half-made) starts the run; ``--force`` on one starts it too.

    Parameters
    ----------
    root : Path
        Run directory.
    kind : str
        ``migsim-sweep-run`` or ``migsim-scenario-run``.
    n_points : int
        Points of the spec.
    batch_size : int, optional
        Batch size asked on the command line (resume: must match the run's).
    default_batch_size : int
        Batch size of a new run.
    fingerprint : str
        The spec's fingerprint.
    resume, force : bool
        The command-line flags.
    new_manifest : callable
        Builds the manifest of a new run from its layout.
    spec_text : str
        The spec as written (``spec.toml``).
    resolved : callable
        Returns the resolved spec (``spec.json``; called for a new run only).
    what : str
        What made the run, for the message on a fingerprint mismatch.
    on_damaged : callable, optional
        Called for each damaged part found on resume (path, problem).

    Raises
    ------
    RunDirError
        Exit 2: not migsim's, held by another process, another spec, half-made with unknown files.
    RunFailure
        Exit 3: disk full or an I/O error while creating it.
    """
    tables = KIND_TABLES[kind]
    check_out_path(root)
    st = inspect(root)
    if st.kind in ("run", "half-made", "old-run"):
        RunLock(root).check_free()  # a writer at work: name it, whatever the directory holds now
    rerun = not resume and not force and st.kind == "run" and up_to_date(root, kind, fingerprint)
    resume = resume or rerun        # the same command again: nothing to compute, exit 0
    _refuse(root, st, resume, force)
    lock = RunLock(root)
    created_root = not root.exists()
    lock.acquire()
    run = OpenRun(root, Layout(root, n_points, default_batch_size, tables[0]), {}, locks=[lock])
    try:
        st = inspect(root)  # again, under the lock
        _refuse(root, st, resume, force)
        if st.kind == "run" and resume:
            man = read_manifest(root)
            _check_resumable(root, man, kind, fingerprint, batch_size, what)
            layout = Layout(root, n_points, int(man["batch_size"]), tables[0])
            clean_staging(root)
            run.layout, run.manifest = layout, man
            run.existing = verified_batches(root, layout, tables, full=True, on_damaged=on_damaged)
            run.existing.update(adopt_unrecorded(root, layout, tables, fingerprint, run.existing))
            run.manifest["versions"] = versions()
            run.manifest["migsim_version"] = migsim_version()
            if rerun:
                run.notes.append(f"{root}: already holds this run, complete (same {what} and "
                                 f"model version): nothing to compute; --force recomputes it")
            return run
        if st.kind in ("run", "old-run"):  # --force: move the old run aside, build anew
            old = _move_aside(root, run)
            run.replaced = old
            run.notes.append(f"the previous run is kept in {old} until this one is complete")
        elif st.kind == "half-made" and any(p.name != INTERNAL for p in root.iterdir()):
            run.notes.append(f"{root}: a half-made run directory (its creation was interrupted; "
                             f"nothing was computed): starting it anew")
            _clear_known(root)
        layout = Layout(root, n_points, default_batch_size, tables[0])
        man = new_manifest(layout)
        if run.replaced is not None:
            man["replacing"] = run.replaced.name
        _create(root, layout, tables, spec_text, resolved(), man)
        run.layout, run.manifest, run.created = layout, man, True
        run.created_root = created_root
        return run
    except BaseException:
        run.release()
        raise


def _refuse(root: Path, st: DirState, resume: bool, force: bool) -> None:
    if st.kind == "not-dir":
        raise RunDirError(f"--out {root}: exists and is not a directory; choose another --out")
    if st.kind == "not-migsim":
        if "is not a migsim run" in st.problem:
            raise RunDirError(f"{st.problem}; migsim does not touch it: choose another --out")
        raise RunDirError(f"{root}: is not a migsim run ({st.problem}); migsim does not touch "
                          f"it: choose another --out")
    if st.kind == "foreign":
        flag = " --force" if force else " --resume" if resume else ""
        raise RunDirError(f"{root}: holds files migsim did not write ({_found(st)}); migsim{flag} "
                          f"does not touch it: choose another --out")
    if st.kind == "run" and not (resume or force):
        raise RunDirError(f"{root}: already holds a run; add --resume to finish it or --force "
                          f"to replace it")
    if st.kind == "old-run" and resume:
        raise RunDirError(f"{root}: was made by an older migsim (run format 1); recompute it with "
                          f"--force or choose another --out")
    if st.kind == "old-run" and not force:
        raise RunDirError(f"{root}: already holds a run of an older migsim; add --force to "
                          f"recompute it")


def _check_resumable(root: Path, man: dict[str, Any], kind: str, fingerprint: str,
                     batch_size: int | None, what: str) -> None:
    if man["kind"] != kind:
        label = kind.removeprefix("migsim-").removesuffix("-run")
        raise RunDirError(f"{root}: is not a {label} run (it is a {man['kind']}); choose "
                          f"another --out")
    if man["fingerprint"] != fingerprint:
        raise RunDirError(f"{root}: was made from a different {what}; rerun without "
                          f"--resume and with --force to replace it, or choose another --out")
    if man["model_version"] != str(models.MODEL_VERSION):
        raise RunDirError(f"{root}: was made with model version {man['model_version']}, this "
                          f"is {models.MODEL_VERSION}; use --force to recompute it")
    if batch_size is not None and batch_size != man["batch_size"]:
        raise RunDirError(f"{root}: was made with --batch-size {man['batch_size']}; resume with "
                          f"the same batch size (or leave it out)")


def _move_aside(root: Path, run: OpenRun) -> Path:
    """``--force``: a new run directory takes ``root``'s place; the old one goes to a sibling.

    The new directory is made and locked beside ``root`` first, then the two renames swap them,
    so ``root`` always names a locked migsim directory.
    """
    pid = os.getpid()
    new = root.with_name(f"{root.name}.new-{pid}")
    old = root.with_name(f"{root.name}.old-{pid}")
    for p in (new, old):
        if p.exists():
            raise RunDirError(f"{p}: exists (left by an earlier --force?); remove it and retry")
    try:
        new.mkdir()
    except OSError as exc:
        raise path_error(root, exc) from None
    lock = RunLock(new).acquire()
    run.locks.append(lock)
    try:
        os.rename(root, old)
    except OSError as exc:
        lock.release()
        run.locks.remove(lock)
        shutil.rmtree(new, ignore_errors=True)
        raise path_error(root, exc) from None
    for lk in run.locks:
        if lk is not lock and lk.root == root:
            lk.root, lk.path = old, old / INTERNAL / LOCK
    try:
        os.rename(new, root)
    except OSError as exc:
        raise RunFailure(f"{root}: another process created it while --force moved the old run "
                         f"to {old}: {exc.strerror}; the old run is intact there") from None
    lock.root, lock.path = root, root / INTERNAL / LOCK
    return old


def _clear_known(root: Path) -> None:
    """Remove what a half-made directory holds (migsim's names only; the lock stays)."""
    for name in (SPEC_TOML, SPEC_JSON, MANIFEST, *ALL_TABLES):
        p = root / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    for p in root.iterdir():
        if _TMP_RE.match(p.name) and p.is_file():
            p.unlink()
    ledger_path(root).unlink(missing_ok=True)
    clean_staging(root)


def _create(root: Path, layout: Layout, tables: Iterable[str], spec_text: str,
            resolved: dict[str, Any], manifest: dict[str, Any]) -> None:
    """Write a new run's files; ``run.json`` (the marker) last."""
    text = dumps(resolved)
    if len(text) > MAX_SPEC_JSON:
        raise RunDirError(f"{root}: the resolved spec is {len(text) / 2**20:,.0f} MiB, more than "
                          f"{MAX_SPEC_JSON // 2**20} MiB for spec.json; use shorter axes")
    try:
        make_dirs(layout.staging_dir)
        for t in tables:
            (root / t).mkdir(exist_ok=True)
        ledger_path(root).write_text("")
        tmp = layout.staging_dir / f".{SPEC_TOML}.{os.getpid()}{TMP_SUFFIX}"
        tmp.write_text(spec_text)
        os.replace(tmp, root / SPEC_TOML)
        write_json(root / SPEC_JSON, resolved, text)
        write_json(root / MANIFEST, manifest)
    except OSError as exc:
        raise path_error(root, exc) from None


def create(root: Path, spec_text: str, resolved: dict[str, Any], manifest: dict[str, Any]) -> None:
    """Create a run directory with its spec files and manifest (no lock: tests and tools)."""
    tables = KIND_TABLES.get(manifest.get("kind", ""), SWEEP_TABLES)
    lay = Layout(root, int(manifest.get("n_points", 0)), int(manifest.get("batch_size", 1)),
                 tables[0])
    make_dirs(root)
    _create(root, lay, tables, spec_text, resolved, manifest)


def node_id() -> str:
    """The Ray node id of this process, else the host name (provenance of parts)."""
    try:
        ray = sys.modules.get("ray")   # never import Ray here: the local executor runs without it
        if ray is not None and ray.is_initialized():
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
    notes : list of str
        Things the command should tell the user (half-made directory, damaged parts recomputed).
    """

    root: Path
    n_points: int
    n_batches: int
    counts: dict[str, int] = field(default_factory=lambda: {s: 0 for s in STATUSES})
    computed_points: int = 0
    resumed_batches: int = 0
    wall_s: float = 0.0
    nodes: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Result rows with status ``failed``."""
        return self.counts.get("failed", 0)

    def add(self, counts: dict[str, Any]) -> None:
        """Add a part's rows per status (``counts``: status name to rows; others ignored)."""
        for s in STATUSES:
            self.counts[s] += int(counts.get(s, 0))

    def keep(self, parts: dict[int, dict[str, Any]]) -> None:
        """Count the parts kept from an earlier invocation (part index to its ledger record)."""
        for meta in parts.values():
            self.add(meta.get("counts", {}))
        self.resumed_batches = len(parts)


# ====================================================================== kept runs
#: Name of the pointer to the newest run of a spec: ``results/<name>/latest`` (a relative symlink,
#: so that Polars, pyarrow and DuckDB follow it as they would a directory).
LATEST = "latest"
#: Names of kept runs: the UTC start time, ``20261202T083012Z`` (sorts in time order); a run
#: started in the same second as another gets ``-2``, ``-3``, ...
_STAMP_RE = re.compile(r"^\d{8}T\d{6}Z(?:-\d+)?$")


def is_kept_parent(path: Path) -> bool:
    """True when ``path`` holds kept runs (a ``latest`` pointer or timestamped run directories)
    rather than being a run itself."""
    if not path.is_dir() or (path / MANIFEST).is_file():
        return False
    if (path / LATEST).is_symlink() or (path / LATEST).is_dir():
        return True
    return any(_STAMP_RE.match(p.name) and (p / MANIFEST).is_file() for p in path.iterdir())


def kept_runs(parent: Path) -> list[Path]:
    """The run directories kept under ``parent``, oldest first (by name: the start time)."""
    if not parent.is_dir():
        return []
    return sorted((p for p in parent.iterdir()
                   if _STAMP_RE.match(p.name) and p.is_dir() and not p.is_symlink()),
                  key=lambda p: _stamp_key(p.name))


def _stamp_key(name: str) -> tuple[str, int]:
    base, _, n = name.partition("-")
    return base, int(n or 1)


def latest_run(parent: Path) -> Path | None:
    """The run ``parent/latest`` points to (``None`` when there is none or it is dangling)."""
    link = parent / LATEST
    if link.is_symlink():
        target = parent / os.readlink(link)
        return target if (target / MANIFEST).is_file() or target.is_dir() else None
    return None


def resolve_run(path: str | os.PathLike[str]) -> Path:
    """A run directory from what the user typed: ``results/<name>`` holding kept runs means its
    latest run; anything else is returned as is (so errors still name what was typed)."""
    p = Path(path)
    if not (p / MANIFEST).exists() and (p / LATEST).is_symlink():
        target = latest_run(p)
        if target is not None:
            return target
    return p


def new_run_name(parent: Path) -> Path:
    """A fresh timestamped run directory under ``parent`` (not created)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    cand, n = parent / stamp, 1
    while cand.exists() or cand.is_symlink():
        n += 1
        cand = parent / f"{stamp}-{n}"
    return cand


def set_latest(parent: Path, run: Path | None) -> None:
    """Point ``parent/latest`` at ``run`` (atomically: a new symlink renamed over the old one);
    ``None`` removes the pointer."""
    link = parent / LATEST
    if run is None:
        if link.is_symlink():
            link.unlink()
        return
    tmp = parent / f".{LATEST}.{os.getpid()}{TMP_SUFFIX}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(run.name, tmp)
    os.replace(tmp, link)


@dataclass
class RunPlace:
    """Where a run without ``--out`` goes (see :func:`place_run`).

    Attributes
    ----------
    root : Path
        The run directory to open.
    parent : Path or None
        ``results/<name>`` when the run is kept side by side with earlier ones (None: ``--out``
        or a directory in the single-run layout of earlier migsim).
    resume : bool
        Open ``root`` with ``resume`` (an earlier run of the same spec resumed, or found up to
        date).
    notes : list of str
        What to tell the user.
    """

    root: Path
    parent: Path | None
    resume: bool
    notes: list[str] = field(default_factory=list)


def place_run(name: str, kind: str, fingerprint: str, *, resume: bool, force: bool,
              base: Path | None = None) -> RunPlace:
    """Choose the run directory of a run without ``--out``: runs are kept side by side.

    ``results/<name>/<UTC start time>/`` holds each run and ``results/<name>/latest`` points to the
    newest. Rules:

    - ``resume``: the newest kept run of this spec (same fingerprint and model version); none: a
      new run.
    - no flag: when the newest run of this spec is complete and up to date, there is nothing to
      compute (it is reopened, verified, and the command exits 0); otherwise a new run, the earlier
      ones untouched.
    - ``force``: always a new run (earlier runs are never deleted).
    - ``results/<name>`` itself a run (the single-run layout of earlier migsim): used as ``--out``
      would be, with a note.

    Parameters
    ----------
    name : str
        The spec's name.
    kind : str
        The manifest kind.
    fingerprint : str
        The spec's fingerprint (overrides included).
    resume, force : bool
        The command-line flags.
    base : Path, optional
        Parent of every spec's runs (default ``results``).
    """
    parent = (base if base is not None else RESULTS) / name
    st = inspect(parent)
    if st.kind in ("run", "old-run", "half-made"):
        return RunPlace(parent, None, resume, [
            f"{parent}: holds a run in the single-run layout of earlier migsim versions; using it "
            f"as --out {parent} (move it away to keep runs side by side)"])
    if resume:
        for run in reversed(kept_runs(parent)):
            if _same_spec(run, kind, fingerprint):
                return RunPlace(run, parent, True)
        return RunPlace(new_run_name(parent), parent, False,
                        [f"{parent}: no earlier run of this spec to resume; starting a new run"])
    latest = latest_run(parent)
    if not force and latest is not None and up_to_date(latest, kind, fingerprint):
        return RunPlace(latest, parent, False)   # open_run: "nothing to compute"
    return RunPlace(new_run_name(parent), parent, False)


def _same_spec(root: Path, kind: str, fingerprint: str) -> bool:
    try:
        man = read_manifest(root)
    except MigsimError:
        return False
    return (man.get("kind") == kind and man.get("fingerprint") == fingerprint
            and man.get("model_version") == models.MODEL_VERSION)
