"""The harness spec: a migsim sweep spec over the guest and migration inputs, plus ``[measure]``.

Everything but the ``[measure]`` table is a sweep spec (:mod:`runner.sweep.spec`: top-level values,
``[grid]``, ``[zip]``, ``[[points]]``, ranges, ``repeat``) and is expanded by the same machinery;
only the inputs the harness controls are allowed::

    name = "qemu-rho"
    memory = "128MiB"                      # required
    wws = "16MiB"                          # default: all memory above 4 MiB outside the hot set
    dirty_pattern = "sequential"           # random (default) or sequential
    [grid]
    max_bandwidth = ["16MB/s", "32MB/s"]   # default: QEMU's own (128 MiB/s in 7.2)
    dirty_rate = ["2000pages/s", "6000pages/s"]
    [[points]]
    link = "200Mbit/s"                     # a link shaped with tc on lo; unset: unshaped
    max_bandwidth = "10GB/s"
    [measure]
    repeats = 3                            # or the sweep key `repeat`
    cancel_after = "45s"

Other inputs: ``hot_set``, ``hot_rate``, ``zero_fraction`` (default 0: all memory non-zero),
``downtime_limit`` (default QEMU's 300 ms), ``auto_converge``. ``[measure]`` keys and defaults
are :data:`MEASURE_KEYS`. Leaves out: running (:mod:`runner.measure.run`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from models import units
from models.errors import SpecError, UnitError
from models.fields import INPUT_BY_COLUMN, MAX_LINK
from runner.errors import UnknownKeyError
from runner.measure.harness import RunInputs, Settings
from runner.sweep.plan import Plan
from runner.sweep.spec import Spec, _Builder, parse_toml, read_spec_file

#: Model inputs the harness controls.
HARNESS_INPUTS = ("memory", "dirty_rate", "dirty_pattern", "wws", "hot_set", "hot_rate",
                  "zero_fraction", "max_bandwidth", "downtime_limit", "auto_converge", "link")
#: ``[measure]`` keys: (kind, default, help).
MEASURE_KEYS: dict[str, tuple[str, Any, str]] = {
    "repeats": ("count", 1, "measurements of each point"),
    "cancel_after": ("duration", "45s", "cancel a pre-copy still iterating after this long"),
    "deadline": ("duration", "30s", "hard limit of a migration beyond cancel_after"),
    "boot_timeout": ("duration", "60s", "longest wait for the guest to fill its memory"),
    "warmup": ("count", 2, "seconds of paced writing before migrating"),
    "sample_interval": ("duration", "100ms", "query-migrate sampling interval"),
    "wws_offset": ("size", "0MiB", "start of the working set above 4 MiB"),
    "accel": ("string", "tcg,tb-size=64", "QEMU -accel"),
    "prealloc": ("bool", False, "-mem-prealloc on both QEMUs"),
    "ports": ("ports", None, "[lo, hi]: TCP ports for the stream (default: any free port)"),
    "tc_burst": ("size", "128KiB", "htb burst of a shaped link"),
    "loopback_rate": ("rate", "2GB/s", "rate the model is given for unshaped loopback"),
    "jitter": ("duration", "20ms", "loopback scheduling jitter allowed in time errors"),
    "low_nonzero": ("size", "512KiB", "non-zero firmware bytes below 4 MiB"),
    "qemu": ("string", "qemu-system-x86_64", "QEMU binary"),
}


@dataclass(frozen=True)
class MeasureSpec:
    """A parsed harness spec.

    Attributes
    ----------
    sweep : Spec
        The sweep part (its plan expands into the runs; ``repeat`` is the repeats).
    settings : Settings
        The ``[measure]`` table.
    wws_offset_bytes : float
        Start of the working set above 4 MiB.
    """

    sweep: Spec
    settings: Settings
    wws_offset_bytes: float

    @property
    def name(self) -> str:
        """Data-set name (default run directory ``results/<name>``)."""
        return self.sweep.name

    @property
    def path(self) -> str:
        """The spec file."""
        return self.sweep.path

    @property
    def n_runs(self) -> int:
        """Migrations to measure (points x repeats)."""
        return self.sweep.n_points

    def repeats(self) -> int:
        """Measurements of each point."""
        return self.sweep.plan.axes[-1].length

    def fingerprint(self) -> str:
        """Hash of everything that decides the runs."""
        blob = json.dumps({"sweep": self.sweep.fingerprint(), "settings": _jsonable(asdict(self.settings)),
                           "wws_offset": self.wws_offset_bytes}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def run(self, index: int) -> tuple[int, int, RunInputs]:
        """Run ``index``: (point id, repeat index, its inputs)."""
        plan: Plan = self.sweep.plan
        cols = plan.expand(index, index + 1)
        reps = self.repeats()
        return index // reps, index % reps, run_inputs(cols, self.wws_offset_bytes)

    def conditions(self) -> dict[str, Any]:
        """The data set's conditions (what ``migsim validate`` needs beyond the rows)."""
        s = self.settings
        return {
            "cancel_after_s": s.cancel_after_s, "jitter_s": s.jitter_s,
            "low_nonzero_bytes": s.low_nonzero_bytes, "loopback_Bps": s.loopback_Bps,
            "page_size_bytes": 4096, "guest_base_bytes": 4 * 2**20,
            "tc_burst_bytes": s.tc_burst_bytes, "accel": s.accel, "machine": "pc", "vcpus": 1,
            "prealloc": s.prealloc, "sample_interval_s": s.sample_s, "warmup_s": s.warmup_s,
            "host_cpus": os.cpu_count(),
        }


#: A point without a shaped link carries the link field's upper bound (10 Tbit/s): no shaping. The
#: model's inputs refuse an infinite link, so "unshaped" is this finite sentinel in the sweep.
UNSHAPED_bps = MAX_LINK

def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _value(cols: dict[str, Any], column: str) -> Any:
    v = cols.get(column)
    if hasattr(v, "item"):
        v = v.item() if getattr(v, "ndim", 0) == 0 else v[0].item()
    return v


def run_inputs(cols: dict[str, Any], wws_offset_bytes: float = 0.0) -> RunInputs:
    """The harness inputs of one expanded point (``Plan.expand(i, i + 1)``)."""
    def get(column: str) -> Any:
        return _value(cols, column)

    pattern = INPUT_BY_COLUMN["dirty_pattern"].choices[int(get("dirty_pattern"))]
    mbw, dtl = get("max_bandwidth_Bps"), get("downtime_limit_ms")
    wws = get("wws_bytes")
    return RunInputs(
        memory_bytes=float(get("memory_bytes")), dirty_rate_Bps=float(get("dirty_rate_Bps")),
        dirty_pattern=pattern, wws_bytes=None if wws is None else float(wws),
        wws_offset_bytes=wws_offset_bytes, hot_set_bytes=float(get("hot_set_bytes")),
        hot_rate_Bps=float(get("hot_rate_Bps")), zero_fraction=float(get("zero_fraction")),
        max_bandwidth_Bps=None if mbw is None else float(mbw),
        downtime_limit_ms=None if dtl is None else float(dtl),
        auto_converge=bool(get("auto_converge")),
        link_bps=math.inf if float(get("link_bps")) >= UNSHAPED_bps else float(get("link_bps")))


def load_measure_spec(path: str | os.PathLike[str]) -> MeasureSpec:
    """Read and validate a harness spec.

    Raises
    ------
    SpecError
        Naming the file, the field, the value and what is allowed.
    """
    text = read_spec_file(path)
    return parse_measure_spec(text, str(path), Path(path).stem)


def parse_measure_spec(text: str, where: str = "<spec>", default_name: str = "measure") -> MeasureSpec:
    """Parse harness-spec TOML text (see the module docstring)."""
    doc = parse_toml(text, where)
    measure = doc.pop("measure", {})
    if not isinstance(measure, dict):
        raise SpecError(where, "measure", measure, "a table [measure] of harness settings")
    _check_inputs(doc, where)
    if "memory" not in _mentioned(doc):
        raise SpecError(where, "memory", None, "a guest memory size (e.g. 128MiB): the harness "
                                               "has no default guest")
    settings, wws_offset = _settings(measure, where)
    if "repeats" in measure:
        if "repeat" in doc:
            raise SpecError(where, "measure.repeats", measure["repeats"],
                            "repeats or the sweep key repeat, not both")
        doc["repeat"] = settings.repeats
    if "link" not in doc and "link" not in doc.get("grid", {}) and "link" not in doc.get("zip", {}):
        doc["link"] = UNSHAPED_bps   # unshaped unless a point says otherwise
    sweep = _Builder(where, doc, default_name).build(text)
    if sweep.plan.random:
        raise SpecError(where, sweep.plan.random[0].column, "a per-point distribution",
                        "values, lists, ranges or num = n draws (a measured run has no seed)")
    settings = Settings(**{**asdict(settings), "repeats": sweep.plan.axes[-1].length})
    ms = MeasureSpec(sweep, settings, wws_offset)
    for i in range(ms.n_runs):   # every run's guest must fit its memory
        _, _, inputs = ms.run(i)
        try:
            inputs.layout(settings.low_nonzero_bytes)
        except Exception as exc:  # noqa: BLE001 - MeasureRunError: reported as a spec problem
            raise SpecError(where, f"run {i}", _describe(inputs), str(exc)) from None
        if inputs.max_bandwidth_Bps is not None and inputs.max_bandwidth_Bps >= 2**63 / 2:
            raise SpecError(where, "max_bandwidth", inputs.max_bandwidth_Bps, "below 4.6e18 B/s")
    return ms


def _describe(inputs: RunInputs) -> str:
    return f"memory {inputs.memory_bytes / 2**20:g} MiB, wws {inputs.wws_bytes}, hot {inputs.hot_set_bytes}"


def _mentioned(doc: dict[str, Any]) -> set[str]:
    keys = {k for k in doc if not isinstance(doc[k], dict) or k not in ("grid", "zip", "overrides")}
    for section in ("grid", "zip"):
        if isinstance(doc.get(section), dict):
            keys |= set(doc[section])
    for row in doc.get("points", []) if isinstance(doc.get("points"), list) else []:
        if isinstance(row, dict):
            keys |= set(row)
    return keys


def _check_inputs(doc: dict[str, Any], where: str) -> None:
    from runner.sweep.spec import META_KEYS
    allowed = "an input the QEMU harness controls (" + ", ".join(HARNESS_INPUTS) + \
        "), a spec key or [measure]"
    if "overrides" in doc:
        raise SpecError(where, "overrides", doc["overrides"], "no [overrides] (real QEMU has no "
                                                              "profile to override)")
    for key in _mentioned(doc):
        if key in META_KEYS or key in ("grid", "zip", "points"):
            continue
        if key not in HARNESS_INPUTS:
            raise UnknownKeyError(where, key, allowed, " (not something the harness controls)")


def _settings(table: dict[str, Any], where: str) -> tuple[Settings, float]:
    vals: dict[str, Any] = {}
    for key, raw in table.items():
        if key not in MEASURE_KEYS:
            raise UnknownKeyError(where, f"measure.{key}", "one of " + ", ".join(MEASURE_KEYS))
    for key, (kind, default, _help) in MEASURE_KEYS.items():
        raw = table.get(key, default)
        vals[key] = _parse_setting(where, key, kind, raw)
    s = Settings(repeats=vals["repeats"], cancel_after_s=vals["cancel_after"],
                 deadline_s=vals["deadline"], boot_timeout_s=vals["boot_timeout"],
                 warmup_s=vals["warmup"], sample_s=vals["sample_interval"], accel=vals["accel"],
                 prealloc=vals["prealloc"], ports=vals["ports"],
                 tc_burst_bytes=int(vals["tc_burst"]), loopback_Bps=vals["loopback_rate"],
                 jitter_s=vals["jitter"], low_nonzero_bytes=vals["low_nonzero"], qemu=vals["qemu"])
    if s.cancel_after_s <= 0 or s.deadline_s <= 0 or s.boot_timeout_s <= 0 or s.sample_s <= 0:
        raise SpecError(where, "measure", table, "positive durations")
    return s, vals["wws_offset"]


def _parse_setting(where: str, key: str, kind: str, raw: Any) -> Any:
    path = f"measure.{key}"
    try:
        if kind == "count":
            if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 10_000:
                raise SpecError(where, path, raw, "a whole number from 1 to 10,000")
            return raw
        if kind == "duration":
            return units.parse_duration(raw, path)
        if kind == "size":
            return units.parse_size(raw, path)
        if kind == "rate":
            return units.parse_rate(raw, path)
        if kind == "bool":
            if not isinstance(raw, bool):
                raise SpecError(where, path, raw, "true or false")
            return raw
        if kind == "string":
            if not isinstance(raw, str) or not raw:
                raise SpecError(where, path, raw, "a non-empty string")
            return raw
        if kind == "ports":
            if raw is None:
                return None
            ok = (isinstance(raw, list) and len(raw) == 2 and all(isinstance(p, int) and not
                  isinstance(p, bool) and 1 <= p <= 65535 for p in raw) and raw[0] <= raw[1])
            if not ok:
                raise SpecError(where, path, raw, "[lo, hi] TCP ports, 1 <= lo <= hi <= 65535")
            return (raw[0], raw[1])
    except UnitError as exc:
        raise SpecError(where, path, raw, exc.allowed) from None
    raise AssertionError(kind)
