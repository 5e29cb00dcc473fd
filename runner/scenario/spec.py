"""Scenario specs: a TOML file with ``kind = "scenario"`` becomes validated scenario points.

Layout (values in human units, as everywhere in migsim)::

    kind = "scenario"
    name = "evacuate-vsphere"       # run directory results/<name> (default: the file name)
    description = "..."
    profile = "vsphere-5.1"         # one hypervisor for the cluster
    seed = 0                        # per-VM random draws (e.g. dirty_rate = {uniform = [...]})
    batch_size = 4                  # scenario points per Parquet part (default: by size)

    [overrides]                     # policy and limits fields of the profile (models.policy),
    max_live_migrations = 4         # plus max_concurrent_migrations (scenario-wide cap)

    [defaults]                      # model inputs of every VM (a [[vms]] entry may override)
    rtt = "0.5ms"

    [[hosts]]
    name = "esx"                    # with count: esx-1 ... esx-N (a host group)
    count = 4
    link = "10GbE"                  # line rate of each migration NIC
    nics = 1
    subnet = "vlan-10"              # L2 network (moves across subnets lose connections)
    datastores = ["san-1"]          # mounted datastores (shared when several hosts list one)

    [[vms]]
    name = "web"                    # with count: web-1 ... web-N
    count = 16
    host = "esx-1"                  # a host, or a host group (VMs spread round-robin over it)
    datastore = "san-1"             # default: the host's first datastore
    storage = "shared"              # shared | shared-nothing (local disk) | mirror | iterative
    memory = "8GiB"                 # ... any model input of models.fields
    dirty_rate = { uniform = ["10MB/s", "60MB/s"] }   # drawn per VM from (seed, group, index)

    [plan]
    evacuate = "esx-1"              # a host, a host group, or a list (in order)
    to = ["esx-2", "esx-3"]         # default: every host not (yet) evacuated
    placement = "round-robin"       # or least-loaded (both among hosts with room)
    rolling = true                  # several hosts: one after the other (else all at once)
    maintenance = "30min"           # a maintenance plan: hold per unit, then after = "return"
    memory_overcommit = 1.0         # with hosts' memory (capacity), memory_used, cpus
    gap_s = 0                       # rolling: pause between hosts (a duration)
    start_s = 0

    [[plan.moves]]                  # explicit moves (after the evacuations)
    vm = "db-1"                     # a VM or a group
    to = "esx-3"                    # and/or datastore = "ds-2"
    start_s = 30

    [network]                       # optional (issue 14; sweeps/SCENARIOS.md): racks come from
    oversubscription = 3            # hosts' rack / rack_size; uplink = rack NICs / 3 (or uplink)
    spine = "400Gbps"               # per site; [[network.wan]] sites, link, rtt
    uplink_background = "5Gbps"     # VM traffic on uplinks; hosts.background on NICs
    nioc = true                     # migration_shares, vm_shares, migration_limit
    [network.datastores]
    san-1 = "400MB/s"               # throughput shared by the disk copies using it

    [grid]                          # sweep any field: crossed ...
    hosts.link = ["1GbE", "10GbE"]  # every host; hosts.esx.link: one [[hosts]] entry
    overrides.max_live_migrations = [2, 4, 8]
    [zip]                           # ... or paired
    vms.web.count = [8, 16]
    vms.web.memory = ["16GiB", "8GiB"]

Sweep paths: ``profile``, ``seed``, ``overrides.<field>``, ``defaults.<input>``,
``hosts.<count|link|nics|subnet|rack|rack_size|memory|cpus|memory_used|background>`` /
``hosts.<name>.<...>``, ``vms.<count|host|datastore|storage|<input>>`` / ``vms.<name>.<...>``,
``plan.<evacuate|placement|rolling|gap_s|start_s|maintenance|after|unit|memory_overcommit|
vcpu_ratio>``, ``network.<uplink|oversubscription|spine|uplink_background|nioc|migration_shares|
vm_shares|migration_limit>``; values take every form of :mod:`runner.sweep.values`
(lists, ``{start, stop, step}``, ``linspace``, ``logspace``, distributions with ``num``). Each
point of the cross product is one whole scenario. Every point is built and checked before anything
runs; a problem raises :class:`SpecError` naming the file, the field, the value and what is
allowed (and the sweep point when the value came from a sweep).
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import ParameterError, SpecError
from models.fields import INPUT_BY_NAME, INPUTS, STORAGE_MODES, Field
from models import topology
from models.placement import AFTER, PLACEMENTS, UNITS, VM, Host, MoveSpec, PlanSpec, expand
from models.policy import PROFILES, REMEDIES, Limits, Policy, get_profile
from models.scenario import Scenario
from runner.sweep import rng
from runner.sweep.spec import parse_toml, read_spec_file
from runner.sweep.values import FieldParser, Random, Values

KIND = "scenario"
TOP_KEYS = ("kind", "name", "description", "profile", "seed", "batch_size", "overrides", "defaults",
            "hosts", "vms", "plan", "network", "grid", "zip")
HOST_KEYS = ("name", "count", "link", "nics", "subnet", "datastores", "rack", "rack_size", "memory",
             "cpus", "memory_used", "background")
VM_KEYS = ("name", "count", "host", "datastore", "storage")
PLAN_KEYS = ("evacuate", "to", "placement", "rolling", "gap_s", "start_s", "moves", "maintenance",
             "after", "unit", "memory_overcommit", "vcpu_ratio")
NETWORK_KEYS = ("uplink", "oversubscription", "spine", "uplink_background", "nioc",
                "migration_shares", "vm_shares", "migration_limit", "racks", "wan", "datastores")
RACK_KEYS = ("name", "uplink", "site", "background")
WAN_KEYS = ("sites", "link", "rtt", "background")
MOVE_KEYS = ("vm", "to", "datastore", "start_s")
#: Inputs a VM may not set: the scenario derives them (hosts, profile, plan).
DERIVED = {"profile": "profile at the top of the spec (one hypervisor per scenario)",
           "link": "link on [[hosts]] (a move uses the slower of its two hosts)",
           "nics": "nics on [[hosts]] (a move uses the fewer of its two hosts')",
           "same_subnet": "subnet on [[hosts]] (moves compare the two hosts' subnets)"}
MAX_CONCURRENT = "max_concurrent_migrations"
MAX_POINTS = 1_000_000
MAX_COUNT = 100_000
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_VALUE_FORM_KEYS = {"start", "stop", "step", "linspace", "logspace", "num", "uniform",
                    "loguniform", "choice", "weights"}

COUNT = Field("count", "count", "count", 1, "number of copies", lo=1.0, hi=float(MAX_COUNT))
SEED = Field("seed", "seed", "count", 0, "random seed", lo=0.0, hi=2.0**63)
GAP = Field("gap_s", "gap_s", "duration", 0.0, "pause between rolling evacuations", hi=1e9)
START = Field("start_s", "start_s", "duration", 0.0, "request time", hi=1e9)
PLACEMENT = Field("placement", "placement", "choice", "round-robin", "placement",
                  choices=PLACEMENTS)
ROLLING = Field("rolling", "rolling", "bool", True, "one host after the other")
PROFILE = INPUT_BY_NAME["profile"]
HOST_NICS = INPUT_BY_NAME["nics"]
HOST_LINK = INPUT_BY_NAME["link"]
_BIG = 1e18
LINK_INF = Field("link", "link_bps", "link", math.inf, "link capacity (inf: no bottleneck)",
                 lo=1e3, lo_open=False, hi=_BIG, inf_ok=True)
BACKGROUND = Field("background", "background_bps", "link", 0.0, "background traffic, bit/s",
                   hi=_BIG)
#: Fields of [[hosts]] beyond link, nics, subnet and datastores.
HOST_FIELDS = {
    "memory": Field("memory", "memory_bytes", "size", math.inf, "memory for VMs (capacity)",
                    lo=0.0, lo_open=True, hi=2.0**60, inf_ok=True),
    "cpus": Field("cpus", "cpus", "count", math.inf, "physical cores", lo=1.0, hi=1e6,
                  inf_ok=True),
    "memory_used": Field("memory_used", "memory_used_bytes", "size", 0.0,
                         "memory already used by VMs outside the scenario", hi=2.0**60),
    "background": BACKGROUND,
    "rack_size": Field("rack_size", "rack_size", "count", 1, "hosts per rack", lo=1.0,
                       hi=float(MAX_COUNT)),
}
#: Scalar fields of [network].
NETWORK_FIELDS = {
    "uplink": LINK_INF,
    "oversubscription": Field("oversubscription", "oversubscription", "ratio", 1.0,
                              "rack NIC capacity / uplink capacity", lo=0.01, hi=1e6),
    "spine": LINK_INF,
    "uplink_background": BACKGROUND,
    "nioc": Field("nioc", "nioc", "bool", False, "Network I/O Control on the host NICs"),
    "migration_shares": Field("migration_shares", "migration_shares", "ratio",
                              topology.NIOC_DEFAULT_MIGRATION_SHARES, "NIOC shares", lo=1.0,
                              hi=100.0),
    "vm_shares": Field("vm_shares", "vm_shares", "ratio", topology.NIOC_DEFAULT_VM_SHARES,
                       "NIOC shares", lo=1.0, hi=100.0),
    "migration_limit": LINK_INF,
}
#: Scalar fields of [plan] for capacity and maintenance.
PLAN_FIELDS = {
    "maintenance": Field("maintenance", "maintenance_s", "duration", 0.0,
                         "maintenance hold per unit", hi=1e9),
    "after": Field("after", "after", "choice", "return", "after maintenance", choices=AFTER),
    "unit": Field("unit", "unit", "choice", "host", "maintenance unit", choices=UNITS),
    "memory_overcommit": Field("memory_overcommit", "memory_overcommit", "ratio", 1.0,
                               "memory placed / capacity", lo=0.01, hi=1000.0),
    "vcpu_ratio": Field("vcpu_ratio", "vcpu_ratio", "ratio", math.inf, "vCPUs per core",
                        lo=0.01, hi=1e6, inf_ok=True),
}
WAN_RTT = Field("rtt", "rtt_s", "duration", 0.0, "WAN round trip", hi=10.0)
DS_RATE = Field("throughput", "throughput_Bps", "rate", math.inf, "datastore throughput",
                lo=1.0, hi=_BIG, inf_ok=True)


# ====================================================================== the spec
@dataclass(frozen=True)
class Axis:
    """One sweep dimension: ``length`` positions, each setting one value per path."""

    label: str
    length: int
    values: dict[str, list[Any]]          # spec path -> values (column units, names for choices)


@dataclass(frozen=True)
class ScenarioSpec:
    """A parsed, validated scenario spec (a sweep of whole scenarios).

    Attributes
    ----------
    path, text : str
        The file and its TOML text.
    name, description : str
    doc : dict
        The TOML document (the base scenario).
    axes : tuple of Axis
        Outermost first.
    batch_size : int or None
        Points per part if the spec says.
    """

    path: str
    text: str
    name: str
    description: str
    doc: dict[str, Any]
    axes: tuple[Axis, ...]
    batch_size: int | None = None
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_points(self) -> int:
        """Scenario points (product of the axis lengths; 1 without a sweep)."""
        return math.prod(a.length for a in self.axes) if self.axes else 1

    def swept(self) -> list[str]:
        """Spec paths that vary, in axis order."""
        return [p for a in self.axes for p in a.values]

    def point_values(self, i: int) -> dict[str, Any]:
        """Values of the swept paths at point ``i`` (column units; names for choices)."""
        if not 0 <= i < self.n_points:
            raise IndexError(f"point {i} outside 0..{self.n_points - 1}")
        out: dict[str, Any] = {}
        stride = self.n_points
        for a in self.axes:
            stride //= a.length
            pos = (i // stride) % a.length
            for p, vals in a.values.items():
                out[p] = vals[pos]
        return out

    def scenario(self, i: int) -> Scenario:
        """The scenario of point ``i`` (built from the document and the point's values).

        Raises
        ------
        SpecError
            If this combination of values makes an invalid scenario.
        """
        vals = self.point_values(i)
        try:
            return build(apply_values(self.doc, vals), self.path, self.name)
        except SpecError as exc:
            if not vals:
                raise
            shown = ", ".join(f"{p} = {_show(v)}" for p, v in vals.items())
            raise SpecError(exc.where, exc.field, exc.value,
                            f"{exc.allowed} (at sweep point {i}: {shown})") from None

    def columns(self) -> dict[str, str]:
        """Result column of each swept path (``overrides.max_live_migrations`` ->
        ``overrides_max_live_migrations``)."""
        return {p: column_name(p) for p in self.swept()}

    def resolved(self) -> dict[str, Any]:
        """What ``spec.json`` holds: the document and the axes."""
        return {"kind": KIND, "name": self.name, "description": self.description,
                "source": self.path, "n_points": self.n_points, "document": self.doc,
                "axes": [{"label": a.label, "length": a.length, "values": a.values}
                         for a in self.axes]}

    def fingerprint(self) -> str:
        """Hash of everything that decides the rows."""
        blob = json.dumps({"document": {k: v for k, v in self.doc.items()
                                        if k not in ("name", "description", "batch_size")},
                           "axes": [(a.label, a.length, a.values) for a in self.axes]},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def effective_batch_size(self, override: int | None = None) -> int:
        """Points per part: the command line's, else the spec's, else about 16 parts."""
        return override or self.batch_size or max(1, min(256, -(-self.n_points // 16)))

    def move_counts(self) -> list[int]:
        """Migrations of every point (remembered from validation)."""
        if "moves" not in self._cache:
            self._cache["moves"] = [len(self.scenario(i).moves) for i in range(self.n_points)]
        return self._cache["moves"]

    def scenarios(self) -> Iterator[tuple[int, Scenario]]:
        """Every point's scenario, in order."""
        for i in range(self.n_points):
            yield i, self.scenario(i)


def column_name(path: str) -> str:
    """A result column name for a spec path."""
    return re.sub(r"[^A-Za-z0-9_]", "_", path)


def _show(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return int(v)
    return v


def is_scenario_file(path: str | os.PathLike[str]) -> bool:
    """True when a TOML file says ``kind = "scenario"`` (unreadable files: False)."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8")).get("kind") == KIND
    except Exception:  # noqa: BLE001
        return False


def load_scenario(path: str | os.PathLike[str],
                  on_progress: Callable[[int, int], None] | None = None) -> ScenarioSpec:
    """Read, parse and validate a scenario spec (every point is built once).

    Parameters
    ----------
    path : path
        The TOML file.
    on_progress : callable, optional
        Called as ``on_progress(points_checked, n_points)`` while the points are built (every
        :data:`PROGRESS_EVERY` points and at the end).

    Raises
    ------
    SpecError
        Naming the file, the field, the value and what is allowed.
    """
    text = read_spec_file(path)
    return parse_scenario(text, str(path), default_name=Path(path).stem, on_progress=on_progress)


#: Points between two calls of a validation progress callback.
PROGRESS_EVERY = 2_000


def parse_scenario(text: str, where: str = "<scenario>", default_name: str = "scenario",
                   check_points: bool = True,
                   on_progress: Callable[[int, int], None] | None = None) -> ScenarioSpec:
    """Parse and validate TOML text (see the module docstring).

    The number of points is known from the sweep forms before any axis is built, and refused
    beyond :data:`MAX_POINTS`; then every point is built once (``check_points``), reporting to
    ``on_progress`` as it goes.
    """
    doc = parse_toml(text, where)
    if doc.get("kind") != KIND:
        if "kind" not in doc:
            raise SpecError(where, "kind", None, 'kind = "scenario" at the top (a sweep spec runs '
                                                 'with: migsim sweep FILE)')
        raise SpecError(where, "kind", doc["kind"], '"scenario" (a sweep spec runs with: '
                                                    'migsim sweep FILE)')
    for key in doc:
        if key not in TOP_KEYS:
            close = difflib.get_close_matches(key, TOP_KEYS, n=1)
            hint = (f"did you mean {close[0]!r}? " if close else "") + "a scenario key: " + \
                ", ".join(TOP_KEYS)
            if key in INPUT_BY_NAME:
                hint = f"model inputs go in [defaults] or [[vms]] ({key} per VM)"
            raise SpecError(where, key, key, hint)
    name = doc.get("name", default_name)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise SpecError(where, "name", name, "letters, digits, '.', '_' and '-' (a directory "
                                             "name), starting with a letter or digit")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise SpecError(where, "description", description, "a string")
    batch_size = doc.get("batch_size")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or not 1 <= batch_size <= 100_000):
        raise SpecError(where, "batch_size", batch_size, "an integer from 1 to 100,000")
    seed = doc.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise SpecError(where, "seed", seed, "an integer from 0 to 2**63 - 1")
    axes = _axes(doc, where, seed)
    spec = ScenarioSpec(path=where, text=text, name=name, description=description, doc=doc,
                        axes=axes, batch_size=batch_size)
    if spec.n_points > MAX_POINTS:
        raise SpecError(where, "grid", f"{spec.n_points:,} points",
                        f"at most {MAX_POINTS:,} scenario points")
    build(doc, where, name)            # the base document on its own
    if check_points:
        moves: list[int] = []
        n = spec.n_points
        for i in range(n):
            moves.append(len(spec.scenario(i).moves))
            if on_progress is not None and (i + 1) % PROGRESS_EVERY == 0:
                on_progress(i + 1, n)
        if on_progress is not None:
            on_progress(n, n)
        spec._cache["moves"] = moves
    return spec


# ====================================================================== sweep axes
def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested TOML tables to dotted paths; value-form tables ({start=...}) are leaves."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict) and v and not (set(v) & _VALUE_FORM_KEYS):
            out.update(_flatten(v, path + "."))
        else:
            out[path] = v
    return out


def _names(path: str, raw: Any) -> Field:
    """A field whose values are free names (subnets, hosts, datastores): the listed strings."""
    vals = raw if isinstance(raw, list) else [raw]
    if not vals or not all(isinstance(v, str) and v for v in vals):
        return Field(path, path, "choice", None, "a name", choices=("<a name>",))
    return Field(path, path, "choice", vals[0], "a name", choices=tuple(dict.fromkeys(vals)))


def _sweep_field(doc: dict[str, Any], where: str, path: str, section: str,
                 raw: Any = None) -> Field:
    """The Field that parses values of a sweep path (and checks the path exists)."""
    full = f"{section}.{path}"
    parts = path.split(".")

    def bad(allowed: str) -> SpecError:
        return SpecError(where, full, path, allowed)

    head = parts[0]
    if head == "profile" and len(parts) == 1:
        return PROFILE
    if head == "seed" and len(parts) == 1:
        return SEED
    if head == "overrides" and len(parts) == 2:
        return _override_field(doc, where, full, parts[1])
    if head == "defaults" and len(parts) == 2:
        return _input_field(where, full, parts[1])
    if head == "plan" and len(parts) == 2:
        if parts[1] == "evacuate":
            return _names(parts[1], raw)
        f = {"placement": PLACEMENT, "rolling": ROLLING, "gap_s": GAP, "start_s": START,
             **PLAN_FIELDS}.get(parts[1])
        if f is None:
            raise bad("plan.evacuate, plan.placement, plan.rolling, plan.gap_s, plan.start_s, "
                      "plan." + ", plan.".join(PLAN_FIELDS))
        return f
    if head == "network" and len(parts) == 2:
        f = NETWORK_FIELDS.get(parts[1])
        if f is None:
            raise bad("network." + ", network.".join(NETWORK_FIELDS))
        return f
    if head in ("hosts", "vms") and len(parts) in (2, 3):
        entries = doc.get(head)
        if not isinstance(entries, list):
            raise bad(f"a path into [[{head}]], which the spec does not have")
        names = [e.get("name") for e in entries if isinstance(e, dict)]
        if len(parts) == 3 and parts[1] not in names:
            raise SpecError(where, full, parts[1],
                            f"the name of a [[{head}]] entry: " + ", ".join(map(str, names)))
        key = parts[-1]
        if head == "hosts":
            if key in ("subnet", "rack"):
                return _names(key, raw)
            f = {"count": COUNT, "link": HOST_LINK, "nics": HOST_NICS, **HOST_FIELDS}.get(key)
            if f is None:
                keys = "|".join(["count", "link", "nics", "subnet", "rack", *HOST_FIELDS])
                raise bad(f"hosts.<{keys}> or hosts.<name>.<{keys}>")
            return f
        if key == "count":
            return COUNT
        if key in ("host", "datastore"):
            return _names(key, raw)
        if key == "storage":
            return INPUT_BY_NAME["storage"]
        return _input_field(where, full, key)
    raise bad("profile, seed, overrides.<field>, defaults.<input>, hosts[.<name>].<field>, "
              "vms[.<name>].<field>, plan.<field> or network.<field>")


def _input_field(where: str, path: str, key: str) -> Field:
    if key in DERIVED:
        raise SpecError(where, path, key, DERIVED[key])
    if key not in INPUT_BY_NAME:
        close = difflib.get_close_matches(key, list(INPUT_BY_NAME), n=1)
        raise SpecError(where, path, key, (f"did you mean {close[0]!r}? " if close else "")
                        + "a model input (" + ", ".join(f.name for f in INPUTS
                                                        if f.name not in DERIVED) + ")")
    return INPUT_BY_NAME[key]


def _override_field(doc: dict[str, Any], where: str, path: str, key: str) -> Field:
    if key == MAX_CONCURRENT:
        return Field(key, key, "count", math.inf, "scenario-wide cap", lo=1.0)
    profile = doc.get("profile", PROFILE.default)
    pol = PROFILES.get(profile if isinstance(profile, str) else PROFILE.default,
                       PROFILES[PROFILE.default])
    names = _override_names()
    if key not in names:
        close = difflib.get_close_matches(key, names, n=1)
        raise SpecError(where, path, key, (f"did you mean {close[0]!r}? " if close else "")
                        + "a policy or limits field of models.policy, or "
                        + MAX_CONCURRENT)
    cur = getattr(pol, key) if hasattr(pol, key) else getattr(pol.limits, key)
    if isinstance(cur, bool):
        return Field(key, key, "bool", cur, "policy switch")
    if key == "remedy":
        return Field(key, key, "choice", cur, "remedy", choices=REMEDIES)
    if isinstance(cur, (int, float)):
        return Field(key, key, "ratio", cur, "policy number")
    raise SpecError(where, path, key, "a numeric or boolean policy field")


def _override_names() -> list[str]:
    skip = {"name", "transports", "limits", "description", "default_transport"}
    return sorted((set(Policy.__dataclass_fields__) - skip) | set(Limits.__dataclass_fields__)
                  | {MAX_CONCURRENT})


def _value(f: Field, v: Any) -> Any:
    """A parsed value in the form the document takes (names for choices, ints for counts)."""
    if f.kind == "choice":
        return f.choices[int(v)]
    if f.kind == "bool":
        return bool(v)
    x = float(v)
    if f.kind == "count" and math.isfinite(x):
        return int(x)
    return x


def _show_len(raw: Any, n: int) -> Any:
    from runner.sweep.values import _Literal
    return _Literal(f"{n:,} values")


def _axes(doc: dict[str, Any], where: str, seed: int) -> tuple[Axis, ...]:
    axes: list[Axis] = []
    seen: dict[str, str] = {}
    parser = FieldParser(where, seed, 4096.0)
    n_points = 1
    for section in ("grid", "zip"):
        table = doc.get(section, {})
        if not isinstance(table, dict):
            raise SpecError(where, section, table, f"a table [{section}] of sweep paths")
        flat = _flatten(table)
        zipped: dict[str, list[Any]] = {}
        first: tuple[str, int] | None = None
        zip_len = 1
        for path, raw in flat.items():
            f = _sweep_field(doc, where, path, section, raw)
            if path in seen:
                raise SpecError(where, f"{section}.{path}", raw,
                                f"{path} swept once (already in [{seen[path]}])")
            seen[path] = section
            n = parser.length(f, raw, f"{section}.{path}")   # known before anything is built
            if section == "grid":
                n_points *= n
            elif n > zip_len:
                n_points, zip_len = n_points // zip_len * n, n
            if n_points > MAX_POINTS:
                raise SpecError(where, f"{section}.{path}", _show_len(raw, n),
                                f"at most {MAX_POINTS:,} scenario points in all (too many points)")
            got = parser.parse(f, raw, f"{section}.{path}", random_ok=False)
            vals = [_value(f, v) for v in (got.values if isinstance(got, Values) else [got.value])]
            if section == "grid":
                axes.append(Axis(f"grid.{path}", len(vals), {path: vals}))
                continue
            if not isinstance(got, Values):
                raise SpecError(where, f"zip.{path}", raw, "a list, range or sampled axis")
            if first is None:
                first = (path, len(vals))
            elif len(vals) != first[1]:
                raise SpecError(where, f"zip.{path}", f"{len(vals)} values",
                                f"{first[1]} values, as many as zip.{first[0]}")
            zipped[path] = vals
        if zipped:
            assert first is not None
            axes.append(Axis("zip", first[1], zipped))
    return tuple(axes)


def apply_values(doc: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of the document with swept values set at their paths."""
    if not values:
        return doc
    out = copy.deepcopy(doc)
    for path, v in values.items():
        parts = path.split(".")
        head = parts[0]
        if head in ("profile", "seed"):
            out[head] = v
        elif head in ("overrides", "defaults", "plan", "network"):
            out.setdefault(head, {})[parts[1]] = v
        else:                                            # hosts / vms
            for e in out.get(head, []):
                if len(parts) == 2 or e.get("name") == parts[1]:
                    e[parts[-1]] = v
    return out


# ====================================================================== building a scenario
class _B:
    """Builds one :class:`Scenario` from a document, raising at the first problem."""

    def __init__(self, doc: dict[str, Any], where: str, name: str) -> None:
        self.doc = doc
        self.where = where
        self.name = name
        self.parser = FieldParser(where, 0, 4096.0)

    def err(self, path: str, value: Any, allowed: str) -> SpecError:
        return SpecError(self.where, path, value, allowed)

    def table(self, key: str) -> dict[str, Any]:
        v = self.doc.get(key, {})
        if not isinstance(v, dict):
            raise self.err(key, v, f"a table [{key}]")
        return v

    def entries(self, key: str) -> list[dict[str, Any]]:
        v = self.doc.get(key)
        if v is None:
            raise self.err(key, None, f"one or more [[{key}]] tables")
        if not isinstance(v, list) or not v or not all(isinstance(e, dict) for e in v):
            raise self.err(key, v, f"one or more [[{key}]] tables")
        return v

    def text(self, value: Any, path: str, default: str | None = None) -> str:
        if value is None and default is not None:
            return default
        if not isinstance(value, str) or not value or not value.strip() == value:
            raise self.err(path, value, "a non-empty string without surrounding spaces")
        return value

    def scalar(self, f: Field, raw: Any, path: str, page_size: float = 4096.0) -> Any:
        return _value(f, self.parser.scalar(f, raw, path, page_size=page_size))

    def count(self, e: dict[str, Any], path: str) -> int | None:
        if "count" not in e:
            return None
        return int(self.scalar(COUNT, e["count"], f"{path}.count"))

    # ------------------------------------------------------------------ parts
    def build(self) -> Scenario:
        from runner.profiles import scenario_doc
        self.doc = scenario_doc(self.doc, self.where)   # a profile file: its base + overrides
        profile = self.doc.get("profile", PROFILE.default)
        if not isinstance(profile, str) or profile not in PROFILES:
            raise self.err("profile", profile, "one of " + ", ".join(PROFILES))
        overrides, max_conc = self.overrides(profile)
        hosts, host_groups = self.hosts()
        network = self.network(hosts)
        vms = self.vms(hosts, host_groups)
        plan = self.plan(host_groups)
        try:
            moves, stages = expand(hosts, vms, plan,
                                   default_memory=float(INPUT_BY_NAME["memory"].default))
            if network is not None:
                topology.build(hosts, moves, network)      # every move has a path
        except ParameterError as exc:
            raise self.err(exc.field, exc.value, exc.allowed) from None
        return Scenario(self.name, profile, tuple(hosts), tuple(vms), moves, stages,
                        tuple(sorted(overrides.items())), max_conc, network)

    def network(self, hosts: list[Host]) -> topology.Network | None:
        """The [network] table (``None`` when the spec has none and no host names a rack)."""
        if "network" not in self.doc and not any(h.rack for h in hosts):
            return None
        net = self.table("network")
        for k in net:
            if k not in NETWORK_KEYS:
                close = difflib.get_close_matches(k, NETWORK_KEYS, n=1)
                raise self.err(f"network.{k}", k, (f"did you mean {close[0]!r}? " if close else "")
                               + "a network key: " + ", ".join(NETWORK_KEYS))
        val = {k: self.scalar(f, net[k], f"network.{k}") for k, f in NETWORK_FIELDS.items()
               if k in net}
        if "uplink" in val and "oversubscription" in val:
            raise self.err("network.oversubscription", net["oversubscription"],
                           "either network.uplink or network.oversubscription (the uplink is the "
                           "rack's NIC capacity / oversubscription), not both")
        rack_nics: dict[str, float] = {}
        order: list[str] = []
        for h in hosts:
            if h.rack:
                if h.rack not in rack_nics:
                    order.append(h.rack)
                rack_nics[h.rack] = rack_nics.get(h.rack, 0.0) + h.nics * h.link_bps
        declared: dict[str, dict[str, Any]] = {}
        raw_racks = net.get("racks", [])
        if not isinstance(raw_racks, list) or not all(isinstance(r, dict) for r in raw_racks):
            raise self.err("network.racks", raw_racks, "[[network.racks]] tables")
        for i, r in enumerate(raw_racks):
            path = f"network.racks[{i}]"
            for k in r:
                if k not in RACK_KEYS:
                    raise self.err(f"{path}.{k}", k, "a rack key: " + ", ".join(RACK_KEYS))
            name = self.text(r.get("name"), f"{path}.name")
            if name in declared:
                raise self.err(f"{path}.name", name, "each rack once")
            declared[name] = r
            if name not in rack_nics:
                order.append(name)
        ubg = float(val.get("uplink_background", 0.0))
        racks = []
        for name in order:
            r = declared.get(name, {})
            path = f"network.racks[{list(declared).index(name)}]" if name in declared else "network"
            if "uplink" in r:
                up = float(self.scalar(LINK_INF, r["uplink"], f"{path}.uplink"))
            elif "oversubscription" in val:
                up = rack_nics.get(name, 0.0) / float(val["oversubscription"])
            else:
                up = float(val.get("uplink", math.inf))
            site = self.text(r.get("site"), f"{path}.site", default="default")
            bg = float(self.scalar(BACKGROUND, r["background"], f"{path}.background")) \
                if "background" in r else ubg
            racks.append(topology.Rack(name, up, site, bg))
        sites = {r.site for r in racks}
        spine = tuple((s_, float(val["spine"])) for s_ in sorted(sites)) if "spine" in val else ()
        wan = []
        raw_wan = net.get("wan", [])
        if not isinstance(raw_wan, list) or not all(isinstance(w, dict) for w in raw_wan):
            raise self.err("network.wan", raw_wan, "[[network.wan]] tables")
        for i, w in enumerate(raw_wan):
            path = f"network.wan[{i}]"
            for k in w:
                if k not in WAN_KEYS:
                    raise self.err(f"{path}.{k}", k, "a WAN key: " + ", ".join(WAN_KEYS))
            st = w.get("sites")
            if not (isinstance(st, list) and len(st) == 2 and all(x in sites for x in st)
                    and st[0] != st[1]):
                raise self.err(f"{path}.sites", st, "two different sites of [[network.racks]]: "
                               + ", ".join(sorted(sites)))
            wan.append(topology.Wan((st[0], st[1]),
                                    float(self.scalar(LINK_INF, w.get("link", "inf"),
                                                      f"{path}.link")),
                                    float(self.scalar(WAN_RTT, w.get("rtt", 0.0), f"{path}.rtt")),
                                    float(self.scalar(BACKGROUND, w.get("background", 0.0),
                                                      f"{path}.background"))))
        ds_raw = net.get("datastores", {})
        if not isinstance(ds_raw, dict):
            raise self.err("network.datastores", ds_raw, 'a table: datastore = "throughput"')
        mounted = {d for h in hosts for d in h.datastores}
        dss = []
        for d, raw in ds_raw.items():
            if d not in mounted:
                raise self.err(f"network.datastores.{d}", d, "a datastore some host mounts: "
                               + (", ".join(sorted(mounted)) or "(none)"))
            dss.append((d, float(self.scalar(DS_RATE, raw, f"network.datastores.{d}"))))
        nioc = None
        if val.get("nioc") or any(k in val for k in ("migration_shares", "vm_shares",
                                                     "migration_limit")):
            if "nioc" in val and not val["nioc"]:
                nioc = None
            else:
                nioc = topology.Nioc(float(val.get("migration_shares",
                                                   topology.NIOC_DEFAULT_MIGRATION_SHARES)),
                                     float(val.get("vm_shares", topology.NIOC_DEFAULT_VM_SHARES)),
                                     float(val.get("migration_limit", math.inf)))
        return topology.Network(tuple(racks), spine, tuple(wan), tuple(dss), nioc)

    def overrides(self, profile: str) -> tuple[dict[str, Any], float]:
        table = self.table("overrides")
        out: dict[str, Any] = {}
        max_conc = math.inf
        for key, raw in table.items():
            path = f"overrides.{key}"
            f = _override_field(self.doc, self.where, path, key)
            if key == MAX_CONCURRENT:
                if raw == "inf" or (isinstance(raw, float) and math.isinf(raw) and raw > 0):
                    continue
                max_conc = float(self.scalar(f, raw, path))
                continue
            if f.kind == "choice":
                if raw not in f.choices:
                    raise self.err(path, raw, "one of " + ", ".join(f.choices))
                out[key] = raw
            elif f.kind == "bool":
                if not isinstance(raw, bool):
                    raise self.err(path, raw, "true or false")
                out[key] = raw
            else:
                if isinstance(raw, bool) or not isinstance(raw, (int, float)) or \
                        (isinstance(raw, float) and math.isnan(raw)) or raw < 0:
                    raise self.err(path, raw, "a number >= 0 (inf allowed)")
                out[key] = float(raw)
        try:
            get_profile(profile, **out)
        except ParameterError as exc:
            key = exc.field.removeprefix("overrides.")
            raise self.err(f"overrides.{key}", exc.value, exc.allowed) from None
        return out, max_conc

    def hosts(self) -> tuple[list[Host], dict[str, list[str]]]:
        out: list[Host] = []
        groups: dict[str, list[str]] = {}
        seen: set[str] = set()
        for i, e in enumerate(self.entries("hosts")):
            path = f"hosts[{i}]"
            for k in e:
                if k not in HOST_KEYS:
                    close = difflib.get_close_matches(k, HOST_KEYS, n=1)
                    raise self.err(f"{path}.{k}", k, (f"did you mean {close[0]!r}? " if close else "")
                                   + "a host key: " + ", ".join(HOST_KEYS))
            base = self.text(e.get("name"), f"{path}.name")
            n = self.count(e, path)
            link = self.scalar(HOST_LINK, e.get("link", "10GbE"), f"{path}.link")
            nics = int(self.scalar(HOST_NICS, e.get("nics", 1), f"{path}.nics"))
            subnet = self.text(e.get("subnet"), f"{path}.subnet", default="default")
            ds = e.get("datastores", [])
            if not isinstance(ds, list) or not all(isinstance(d, str) and d for d in ds) or \
                    len(set(ds)) != len(ds):
                raise self.err(f"{path}.datastores", ds, "a list of distinct datastore names")
            names = [base] if n is None else [f"{base}-{k}" for k in range(1, n + 1)]
            extra = {k: float(self.scalar(f, e[k], f"{path}.{k}")) for k, f in HOST_FIELDS.items()
                     if k in e}
            if "rack" in e and "rack_size" in e:
                raise self.err(f"{path}.rack_size", e["rack_size"], "either rack (one rack for "
                               "the entry) or rack_size (racks of N hosts), not both")
            rack = self.text(e["rack"], f"{path}.rack") if "rack" in e else ""
            size = int(extra.pop("rack_size", 0))
            if base in groups:
                raise self.err(f"{path}.name", base, "a name not used by another [[hosts]] entry")
            groups[base] = names
            for j, nm in enumerate(names):
                if nm in seen:
                    raise self.err(f"{path}.name", nm, "host names unique across [[hosts]]")
                seen.add(nm)
                r_nm = rack if not size else f"{base}-rack-{j // size + 1}"
                out.append(Host(nm, float(link), nics, subnet, tuple(ds), r_nm,
                                extra.get("memory", math.inf), extra.get("cpus", math.inf),
                                extra.get("memory_used", 0.0), extra.get("background", 0.0)))
        for g, names in groups.items():
            if g not in seen:
                seen.add(g)
        return out, groups

    def _inputs(self, table: dict[str, Any], path: str, vm_keys: tuple[str, ...],
                seeds: np.ndarray | None, group: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Model inputs of a table: fixed values, and per-VM draws (column -> array)."""
        fixed: dict[str, Any] = {}
        drawn: dict[str, np.ndarray] = {}
        ps_raw = table.get("page_size")
        ps = float(self.scalar(INPUT_BY_NAME["page_size"], ps_raw, f"{path}.page_size")) \
            if ps_raw is not None and not isinstance(ps_raw, dict) else 4096.0
        for key, raw in table.items():
            if key in vm_keys:
                continue
            f = _input_field(self.where, f"{path}.{key}", key)
            if key == "storage":
                continue
            if isinstance(raw, list):
                raise self.err(f"{path}.{key}", raw, f"one value of {key} per VM (sweep it in "
                                                     f"[grid] as vms.{group or '<name>'}.{key})")
            p = FieldParser(self.where, 0, ps)
            got = p.parse(f, raw, f"{path}.{key}", axis_ok=False, random_ok=True)
            if isinstance(got, Random):
                if seeds is None:
                    raise self.err(f"{path}.{key}", raw, f"one value of {key} here (draw per VM "
                                                         f"in [[vms]])")
                vals = got.field.draw(seeds)
                drawn[f.column] = np.array([_value(f, v) for v in vals], dtype=object)
            else:
                fixed[f.column] = _value(f, got.value)
        return fixed, drawn

    def vms(self, hosts: list[Host], host_groups: dict[str, list[str]]) -> list[VM]:
        by_host = {h.name: h for h in hosts}
        defaults = self.table("defaults")
        for k in defaults:
            if k in ("storage", "datastore", "host", "count", "name"):
                raise self.err(f"defaults.{k}", k, "a model input (storage, datastore and host are "
                                                   "set per [[vms]] entry)")
        dfix, _ = self._inputs(defaults, "defaults", (), None, "")
        seed = int(self.doc.get("seed", 0))
        out: list[VM] = []
        seen: set[str] = set()
        groups: set[str] = set()
        for i, e in enumerate(self.entries("vms")):
            path = f"vms[{i}]"
            base = self.text(e.get("name"), f"{path}.name")
            if base in groups:
                raise self.err(f"{path}.name", base, "a name not used by another [[vms]] entry")
            groups.add(base)
            n = self.count(e, path)
            k_vms = 1 if n is None else n
            host_raw = e.get("host")
            if host_raw is None:
                raise self.err(f"{path}.host", None, "the host (or host group) the VMs run on: "
                               + ", ".join(list(host_groups)[:8]))
            if not isinstance(host_raw, str):
                raise self.err(f"{path}.host", host_raw, "one host or host group name (a string): "
                               + ", ".join(list(host_groups)[:8]))
            if host_raw in by_host:
                placed = [host_raw] * k_vms
            elif host_raw in host_groups:
                members = host_groups[host_raw]
                placed = [members[j % len(members)] for j in range(k_vms)]
            else:
                names = sorted(set(by_host) | set(host_groups))
                shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
                raise self.err(f"{path}.host", host_raw, f"a host or host group: {shown}")
            storage = e.get("storage", "shared")
            if storage not in STORAGE_MODES:
                raise self.err(f"{path}.storage", storage, "one of " + ", ".join(STORAGE_MODES)
                               + " (shared-nothing: local disk, moves with the VM; mirror/iterative:"
                                 " how Storage vMotion copies)")
            base_seed = rng.splitmix64(np.array([seed ^ int(rng.key(base))], dtype=np.uint64))[0]
            seeds = rng.splitmix64(np.arange(k_vms, dtype=np.uint64) ^ base_seed)
            vfix, vdrawn = self._inputs(e, path, VM_KEYS, seeds, base)
            fixed = {**dfix, **vfix}
            ds_raw = e.get("datastore")
            for j in range(k_vms):
                nm = base if n is None else f"{base}-{j + 1}"
                if nm in seen or nm in groups - {base}:
                    raise self.err(f"{path}.name", nm, "VM names unique across [[vms]]")
                seen.add(nm)
                h = by_host[placed[j]]
                if ds_raw is None:
                    ds = h.datastores[0] if h.datastores else None
                else:
                    ds = self.text(ds_raw, f"{path}.datastore")
                    if h.datastores and ds not in h.datastores:
                        raise self.err(f"{path}.datastore", ds, f"a datastore of host {h.name}: "
                                       + ", ".join(h.datastores))
                inputs = dict(fixed)
                for col, arr in vdrawn.items():
                    inputs[col] = arr[j]
                out.append(VM(nm, base, h.name, ds, storage == "shared-nothing",
                              storage if storage in ("mirror", "iterative") else "mirror",
                              tuple(sorted(inputs.items()))))
        return out

    def plan(self, host_groups: dict[str, list[str]]) -> PlanSpec:
        plan = self.table("plan")
        for k in plan:
            if k not in PLAN_KEYS:
                close = difflib.get_close_matches(k, PLAN_KEYS, n=1)
                raise self.err(f"plan.{k}", k, (f"did you mean {close[0]!r}? " if close else "")
                               + "a plan key: " + ", ".join(PLAN_KEYS))
        if not plan.get("evacuate") and not plan.get("moves"):
            raise self.err("plan", plan or None, 'evacuate = "HOST" (with to = [...]) or one or '
                                                 'more [[plan.moves]]')

        def hosts_of(raw: Any, path: str) -> tuple[str, ...]:
            items = raw if isinstance(raw, list) else [raw]
            out: list[str] = []
            for j, h in enumerate(items):
                p = f"{path}[{j}]" if isinstance(raw, list) else path
                if not isinstance(h, str):
                    raise self.err(p, h, "a host or host group name")
                out.extend(host_groups.get(h, [h]) if h not in {x for v in host_groups.values()
                                                                for x in v} else [h])
            return tuple(out)

        evac = hosts_of(plan["evacuate"], "plan.evacuate") if plan.get("evacuate") else ()
        to = hosts_of(plan["to"], "plan.to") if "to" in plan else None
        placement = plan.get("placement", "round-robin")
        if placement not in PLACEMENTS:
            raise self.err("plan.placement", placement, "one of " + ", ".join(PLACEMENTS))
        rolling = plan.get("rolling", True)
        if not isinstance(rolling, bool):
            raise self.err("plan.rolling", rolling, "true or false")
        gap = float(self.scalar(GAP, plan.get("gap_s", 0.0), "plan.gap_s"))
        start = float(self.scalar(START, plan.get("start_s", 0.0), "plan.start_s"))
        pv = {k: self.scalar(f, plan[k], f"plan.{k}") for k, f in PLAN_FIELDS.items() if k in plan}
        if any(k in plan for k in ("after", "unit")) and "maintenance" not in plan:
            raise self.err("plan.maintenance", None, "a maintenance time per host (e.g. "
                           '"30min") with plan.after / plan.unit')
        moves: list[MoveSpec] = []
        raw_moves = plan.get("moves", [])
        if not isinstance(raw_moves, list) or not all(isinstance(m, dict) for m in raw_moves):
            raise self.err("plan.moves", raw_moves, "[[plan.moves]] tables")
        for i, m in enumerate(raw_moves):
            path = f"plan.moves[{i}]"
            for k in m:
                if k not in MOVE_KEYS:
                    close = difflib.get_close_matches(k, MOVE_KEYS, n=1)
                    raise self.err(f"{path}.{k}", k, (f"did you mean {close[0]!r}? " if close
                                                      else "") + "a move key: " + ", ".join(MOVE_KEYS))
            vm = self.text(m.get("vm"), f"{path}.vm")
            to_m = self.text(m["to"], f"{path}.to") if "to" in m else None
            ds = self.text(m["datastore"], f"{path}.datastore") if "datastore" in m else None
            if to_m is None and ds is None:
                raise self.err(path, m, "to = HOST and/or datastore = DATASTORE")
            st = float(self.scalar(START, m.get("start_s", 0.0), f"{path}.start_s"))
            moves.append(MoveSpec(vm, to_m, ds, st))
        return PlanSpec(evac, to, placement, rolling, gap, start, tuple(moves),
                        memory_overcommit=float(pv.get("memory_overcommit", 1.0)),
                        vcpu_ratio=float(pv.get("vcpu_ratio", math.inf)),
                        maintenance_s=float(pv["maintenance"]) if "maintenance" in pv else None,
                        after=str(pv.get("after", "return")),
                        unit=str(pv.get("unit", "host")))


def build(doc: dict[str, Any], where: str, name: str) -> Scenario:
    """Build the scenario a document describes.

    Raises
    ------
    SpecError
        For the first problem, naming ``where``, the field path, the value and what is allowed.
    """
    return _B(doc, where, name).build()
