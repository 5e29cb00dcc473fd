"""Profile files: your own hypervisor profile as a TOML file, usable wherever a profile name is.

A profile file names a shipped profile to start from and overrides some of its policy constants::

    base = "vsphere-5.1"                 # a shipped profile (migsim profiles lists them)
    name = "vsphere-6.7"                 # default: the file name without .toml
    description = "vSphere 6.7 vMotion: 1 s switch-over goal"
    downtime_limit_ms = "1s"             # policy fields of models.policy, with units
    max_nics_10g = 8
    setup_s = "300ms"

    [sources]                            # optional: where each value comes from
    downtime_limit_ms = "assumed for the example"

Values follow the one rule of every input (:mod:`models.fields`): a bare number is in the unit the
field's name carries (``downtime_limit_ms = 1000`` is 1000 ms, ``max_bandwidth_Bps = 1e9`` bytes/s),
a string takes explicit units (``"1s"``, ``"1GB/s"``, ``"10GbE"``, ``"8MB"``). Fields of the
profile's admission limits (``max_live_migrations``, ``host_cost``, ...) are accepted too. An
override without a ``[sources]`` entry is recorded as ``profile file <path>``.

Use it with ``migsim migrate --profile ./vsphere-6.7.toml``, in a sweep spec
(``profile = ["vsphere-5.1", "./vsphere-6.7.toml"]``, a path relative to the spec), in a scenario
(``profile = "./vsphere-6.7.toml"``), and ``migsim profiles ./vsphere-6.7.toml`` prints it resolved.
A run records the resolved constants of every custom profile it used (``spec.json`` ``profiles``
for sweeps, ``run.json`` ``profiles`` for frontiers).

No model code reads files: this module turns a file into plain data (:class:`ProfileFile`) and
:func:`policy` turns that into a :class:`models.policy.Policy` for ``models.simulate(...,
profiles=...)``.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from models.errors import ParameterError, SpecError
from models.fields import Field
from models.policy import PROFILES, Limits, Policy, get_profile

#: Keys of a profile file that are not policy fields.
META_KEYS = ("base", "name", "description", "sources")
#: Policy fields a file may not set (structure, not constants).
_NOT_OVERRIDABLE = {"name", "transports", "limits", "sources", "base"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
#: The unit a policy field's name carries → the kind of value it takes (models.fields.Field.kind).
_SUFFIX_KIND = (("_ms", "duration"), ("_s", "duration"), ("_bytes", "size"), ("_Bps", "rate"),
                ("_bps", "link"))


class ProfileFileError(SpecError):
    """A profile file that cannot be read, or a field or value it may not have (exit 2)."""


def overridable() -> list[str]:
    """Every policy and limits field a profile file may set."""
    pol = [f.name for f in fields(Policy) if f.name not in _NOT_OVERRIDABLE]
    return pol + [f.name for f in fields(Limits)]


def is_path(text: Any) -> bool:
    """A profile reference is a file (``*.toml`` or containing a path separator), not a name."""
    return isinstance(text, str) and (text.endswith(".toml") or "/" in text or os.sep in text)


def _kind(key: str) -> str:
    for suffix, kind in _SUFFIX_KIND:
        if key.endswith(suffix):
            return kind
    return "ratio"


def parse_value(key: str, raw: Any, current: Any, where: str) -> Any:
    """One override in the field's unit (the unit its name carries), typed like ``current``."""
    if isinstance(current, bool):
        if not isinstance(raw, bool):
            raise ProfileFileError(where, key, raw, "true or false")
        return raw
    if isinstance(current, str):
        if not isinstance(raw, str):
            raise ProfileFileError(where, key, raw, f"a string (the profile has {current!r})")
        return raw
    kind = _kind(key)
    f = Field(key, key, kind, None, "", lo=0.0, hi=math.inf, inf_ok=True)
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ProfileFileError(where, key, raw, f"a number >= 0 {_unit_hint(f)}")
    try:
        return float(f.parse(raw))
    except ParameterError as exc:
        raise ProfileFileError(where, key, raw, exc.allowed) from None


def _unit_hint(f: Field) -> str:
    return f"(a bare number is {f.unit})" if f.unit else ""


@dataclass(frozen=True)
class ProfileFile:
    """A profile file, resolved to plain data (picklable, JSON-able).

    Attributes
    ----------
    name, base, description : str
    overrides : dict
        Policy and limits fields in the units their names carry.
    sources : dict
        Where each override comes from.
    path : str
        The file as given.
    """

    name: str
    base: str
    description: str
    overrides: Mapping[str, Any]
    sources: Mapping[str, str]
    path: str

    def policy(self) -> Policy:
        """The :class:`~models.policy.Policy` this file describes."""
        return policy(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "base": self.base, "description": self.description,
                "overrides": dict(self.overrides), "sources": dict(self.sources),
                "path": self.path}


def policy(d: Mapping[str, Any]) -> Policy:
    """A :class:`Policy` from a profile's plain data (:meth:`ProfileFile.as_dict`)."""
    p = get_profile(d["base"], **dict(d["overrides"]))
    srcs = dict(p.sources)
    srcs.update({k: d["sources"].get(k, f"profile file {d.get('path') or d['name']}")
                 for k in d["overrides"]})
    return replace(p, name=d["name"], base=d["base"],
                   description=d.get("description") or f"{d['base']} with overrides",
                   sources=MappingProxyType(srcs))


def load(path: str | os.PathLike[str], relative_to: str | os.PathLike[str] | None = None
         ) -> ProfileFile:
    """Read and validate a profile file.

    Parameters
    ----------
    path : path
        The file; relative paths are taken from ``relative_to`` (a directory) when given.

    Raises
    ------
    ProfileFileError
        One line naming the file, the field, the value and what is allowed.
    """
    shown = str(path)
    p = Path(path)
    if relative_to is not None and not p.is_absolute():
        p = Path(relative_to) / p
    if not p.is_file():
        raise ProfileFileError(shown, "profile", shown, "a profile file (TOML) that exists"
                               if not p.exists() else "a file, not a directory")
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileFileError(shown, "profile", shown, f"a readable file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        msg = " ".join(str(exc).split())
        raise ProfileFileError(shown, "(file)", shown, f"valid TOML ({msg})") from None
    return from_doc(doc, shown, default_name=p.stem)


def from_doc(doc: Mapping[str, Any], where: str, default_name: str = "custom") -> ProfileFile:
    """Validate a parsed profile document (see the module docstring)."""
    base = doc.get("base")
    if base not in PROFILES:
        raise ProfileFileError(where, "base", base, "a shipped profile: " + ", ".join(PROFILES))
    name = doc.get("name", default_name)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ProfileFileError(where, "name", name, "letters, digits, '.', '_', '+', '-' "
                               "(at most 64; starts with a letter or digit)")
    if name in PROFILES:
        raise ProfileFileError(where, "name", name, "a name that is not a shipped profile ("
                               + ", ".join(PROFILES) + "); e.g. " + f"{name}-custom")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise ProfileFileError(where, "description", description, "a string")
    sources = doc.get("sources", {})
    if not isinstance(sources, dict) or not all(isinstance(v, str) for v in sources.values()):
        raise ProfileFileError(where, "sources", sources, "a table of field = \"source text\"")
    allowed = overridable()
    shipped = PROFILES[base]
    overrides: dict[str, Any] = {}
    for key, raw in doc.items():
        if key in META_KEYS:
            continue
        if key not in allowed:
            from runner.errors import UnknownKeyError
            close = difflib.get_close_matches(key, allowed, n=1)
            raise UnknownKeyError(where, key, "base, name, description, [sources] or a policy "
                                  "field: " + ", ".join(a for a in allowed if a != "description"),
                                  f" (did you mean {close[0]}?)" if close else "")
        current = getattr(shipped, key) if hasattr(shipped, key) else getattr(shipped.limits, key)
        overrides[key] = parse_value(key, raw, current, where)
    for key in sources:
        if key not in overrides:
            raise ProfileFileError(where, f"sources.{key}", sources[key],
                                   "a source for a field this file sets: "
                                   + (", ".join(overrides) or "(none set)"))
    try:
        get_profile(base, **overrides)
    except ParameterError as exc:
        raise ProfileFileError(where, exc.field.removeprefix("overrides."), exc.value,
                               exc.allowed) from None
    return ProfileFile(name, base, description, overrides, dict(sources), where)


def resolve(ref: str, relative_to: str | os.PathLike[str] | None = None
            ) -> tuple[str, ProfileFile | None]:
    """A profile reference (a shipped name or a file path) → (name, the file or ``None``).

    Raises
    ------
    ProfileFileError
        For a path that is not a valid profile file. Unknown *names* are left to the caller
        (the model and the spec parsers name the shipped profiles).
    """
    if is_path(ref):
        pf = load(ref, relative_to)
        return pf.name, pf
    return ref, None


def scenario_doc(doc: dict[str, Any], where: str) -> dict[str, Any]:
    """A scenario spec whose ``profile`` is a file, as its base profile with the file's constants
    as ``[overrides]`` (the scenario's own overrides win); any other spec unchanged. The scenario
    runs with the file's constants; its rows name the base profile."""
    ref = doc.get("profile")
    if not is_path(ref):
        return doc
    try:
        pf = load(ref, Path(where).parent)
    except ProfileFileError as exc:
        raise ProfileFileError(where, f"profile ({exc.where})", exc.value,
                               f"{exc.field}: {exc.allowed}") from None
    own = doc.get("overrides") if isinstance(doc.get("overrides"), dict) else {}
    return {**doc, "profile": pf.base, "overrides": {**pf.overrides, **own}}


# ----------------------------------------------------------------------------- runs

def constants(p: Policy) -> dict[str, Any]:
    """Every constant of a policy, with its source (JSON-able: inf as the string "inf")."""
    def plain(v: Any) -> Any:
        if isinstance(v, float) and math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    out: dict[str, Any] = {}
    for f in fields(Policy):
        if f.name in ("transports", "limits", "sources", "name", "description", "base"):
            continue
        out[f.name] = {"value": plain(getattr(p, f.name)), "source": p.source(f.name)}
    for f in fields(Limits):
        out[f"limits.{f.name}"] = {"value": plain(getattr(p.limits, f.name)),
                                   "source": p.source(f.name)}
    return out


def describe(d: Mapping[str, Any]) -> dict[str, Any]:
    """What a run records of a custom profile: its file data and every resolved constant."""
    p = policy(d)
    return {**dict(d), "constants": constants(p)}


def describe_profiles(profiles: Mapping[str, Policy]) -> dict[str, Any]:
    """Name → base, description and every resolved constant, for ``run.json``."""
    return {name: {"base": p.base, "description": p.description, "constants": constants(p)}
            for name, p in profiles.items()}


def plan_profiles(plan: Any) -> dict[str, Policy]:
    """The custom profiles of a sweep plan (``Plan.profiles``: name → plain data) as policies."""
    return {name: policy(d) for name, d in dict(getattr(plan, "profiles", None) or {}).items()}


def profile_names(plan: Any) -> tuple[str, ...]:
    """The profile names a plan's codes index: the shipped ones, then its custom ones."""
    return tuple(PROFILES) + tuple(dict(getattr(plan, "profiles", None) or {}))


def spec_profiles(doc: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """Replace profile-file paths in a sweep spec's ``profile`` values by the files' names.

    Walks ``profile`` at the top level, in ``[grid]``, ``[zip]``, ``[[points]]`` and inside
    ``{choice = [...]}`` forms; loads each file relative to the spec's directory. Returns name →
    plain data (:meth:`ProfileFile.as_dict`) in first-seen order; the document is edited in place.

    Raises
    ------
    ProfileFileError
        A file that is missing or invalid, or two different files with the same name.
    """
    base_dir = Path(where).parent
    found: dict[str, dict[str, Any]] = {}

    def one(v: Any) -> Any:
        if not is_path(v):
            return v
        try:
            pf = load(v, base_dir)
        except ProfileFileError as exc:
            raise ProfileFileError(where, f"profile ({exc.where})", exc.value,
                                   f"{exc.field}: {exc.allowed}") from None
        d = pf.as_dict()
        d["path"] = v
        if pf.name in found and found[pf.name]["overrides"] != d["overrides"]:
            raise ProfileFileError(where, "profile", v, f"one file per profile name; "
                                   f"{pf.name!r} is also {found[pf.name]['path']}")
        found.setdefault(pf.name, d)
        return pf.name

    def walk(v: Any) -> Any:
        if isinstance(v, list):
            return [one(x) for x in v]
        if isinstance(v, dict) and "choice" in v and isinstance(v["choice"], list):
            return {**v, "choice": [one(x) for x in v["choice"]]}
        return one(v)

    tables = [doc] + [doc.get(s) for s in ("grid", "zip") if isinstance(doc.get(s), dict)]
    points = doc.get("points")
    if isinstance(points, list):
        tables += [p for p in points if isinstance(p, dict)]
    for t in tables:
        if "profile" in t:
            t["profile"] = walk(t["profile"])
    return found


def custom_parser(parser: Any, custom: Mapping[str, Any]) -> Any:
    """A sweep spec's :class:`~runner.sweep.values.FieldParser` that also takes the names of the
    spec's custom profiles as ``profile`` values (coded after the shipped ones)."""
    names = tuple(PROFILES) + tuple(custom)

    class _ProfileParser(type(parser)):  # type: ignore[misc]
        def scalar(self, f: Any, raw: Any, path: str, *args: Any, **kw: Any) -> Any:
            if f.column == "profile" and isinstance(raw, str) and raw in custom:
                return names.index(raw)
            return super().scalar(f, raw, path, *args, **kw)

    parser.__class__ = _ProfileParser
    return parser


def check_name(name: str, custom: Mapping[str, Any]) -> None:
    """Raise if ``name`` is neither shipped nor one of ``custom``."""
    if name not in PROFILES and name not in custom:
        raise ParameterError("profile", name, "one of " + ", ".join((*PROFILES, *custom))
                             + ", or a profile file (./my-profile.toml)")


__all__ = ["ProfileFile", "ProfileFileError", "load", "resolve", "policy",
           "plan_profiles", "describe_profiles", "spec_profiles", "scenario_doc"]
