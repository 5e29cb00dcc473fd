"""Hydra-style overrides of a spec from the command line: ``migsim sweep SPEC memory=32GiB
grid.link=[1GbE,10GbE] +downtime_limit=300 ~grid.dirty_rate``.

Forms (one argument each; the key is a dotted path into the spec's TOML document):

- ``key=value`` — replace a value the spec sets (``memory=32GiB``, ``grid.link=[1GbE,10GbE]``,
  ``seed=7``, ``overrides.qemu.max_bandwidth=1GiB/s``). A key the spec does not set is refused
  (a typo must not silently add a field): add it with ``+``.
- ``+key=value`` — add a key the spec does not set (refused if it does: use ``key=value``).
- ``~key`` — remove a key (``~grid.dirty_rate`` then ``dirty_rate=100MB/s`` moves an axis to a
  fixed value).

A value is read as a TOML value when it is one (``32``, ``1e9``, ``true``, ``"16GiB"``,
``{logspace = ["5MB/s", "1GB/s"], num = 12}``), else as a bare string (``32GiB``, ``10GbE``);
``[a,b]`` is a list of such values. The overridden document is then written back as TOML and
parsed as any spec, so a bad value gets the spec's own one-line error naming the field, and the
run records that TOML (``spec.toml``: reproducible with ``migsim sweep RUN/spec.toml``) and the
overrides themselves (``run.json`` ``overrides``).
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Sequence

from runner.errors import OptionError

_KEY_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_.\-"]*$')
_BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_\-]+$")


def is_override(arg: str) -> bool:
    """True when a command-line argument is an override (``key=value``, ``+key=value``,
    ``~key``), not a file."""
    if arg.startswith("~"):
        return bool(_KEY_RE.match(arg[1:]))
    key, eq, _ = arg.partition("=")
    return bool(eq) and bool(_KEY_RE.match(key.removeprefix("+")))


def parse_value(text: str) -> Any:
    """An override's value: a TOML value if it is one, ``[a,b]`` a list, else a bare string."""
    text = text.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [parse_value(p) for p in _split(inner)] if inner else []
    return text


def _split(text: str) -> list[str]:
    """Split on commas outside brackets, braces and quotes."""
    out, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur))
    return [p.strip() for p in out]


def apply(doc: dict[str, Any], overrides: Sequence[str], where: str) -> dict[str, Any]:
    """A copy of a spec's TOML document with the overrides applied, in order.

    Raises
    ------
    OptionError
        One line naming the override, the key and what is allowed (malformed, unknown key,
        adding a key that exists, a path through a value that is not a table).
    """
    doc = copy.deepcopy(doc)
    for arg in overrides:
        if not is_override(arg):
            raise OptionError(f"override {arg!r}: not key=value, +key=value or ~key (keys are "
                              f"dotted spec paths, e.g. memory=32GiB, grid.link=[1GbE,10GbE])")
        if arg.startswith("~"):
            op, path, value = "del", arg[1:], None
        else:
            key, _, raw = arg.partition("=")
            op = "add" if key.startswith("+") else "set"
            path, value = key.removeprefix("+"), parse_value(raw)
        parts = _split_path(path, doc)
        node: Any = doc
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None and op == "add":
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                here = ".".join(parts[:i + 1])
                raise OptionError(f"override {arg!r}: {here}: "
                                  + ("is not a table of the spec" if nxt is not None else
                                     f"not in {where}; add it with +{path}=..."))
            node = nxt
        last = parts[-1]
        if op == "set" and last not in node:
            raise OptionError(f"override {arg!r}: {path} is not set in {where}; add it with "
                              f"+{arg}" + _hint(doc, last))
        if op == "add" and last in node:
            raise OptionError(f"override {arg!r}: {path} is already set in {where}; replace it "
                              f"with {arg[1:]}")
        if op == "del":
            if last not in node:
                raise OptionError(f"override {arg!r}: {path} is not set in {where}")
            del node[last]
        else:
            node[last] = value
    return doc


def _split_path(path: str, doc: dict[str, Any]) -> list[str]:
    """The keys of a dotted path. A key may itself hold dots (``overrides.vsphere-5.1.max_rounds``:
    profile names) — then the longest run of parts that names an existing key, or a profile under
    ``overrides``, is one key; ``"..."`` quotes a key explicitly."""
    raw: list[str] = []
    for m in re.finditer(r'"([^"]*)"|([^.]+)', path):
        raw.append(m.group(1) if m.group(1) is not None else m.group(2))
    out: list[str] = []
    node: Any = doc
    i = 0
    while i < len(raw):
        known = set(node) if isinstance(node, dict) else set()
        if out == ["overrides"]:
            from models.policy import PROFILES
            known |= set(PROFILES)
        j = next((j for j in range(len(raw), i + 1, -1) if ".".join(raw[i:j]) in known), i + 1)
        key = ".".join(raw[i:j])
        out.append(key)
        node = node.get(key) if isinstance(node, dict) else None
        i = j
    return out


def _hint(doc: dict[str, Any], last: str) -> str:
    """Where the spec does set a field of that name (``link`` is in ``[grid]``)."""
    found = [k for k, v in doc.items() if isinstance(v, dict) and last in v]
    if last in doc:
        found.insert(0, "")
    shown = ", ".join(f"{k}.{last}" if k else last for k in found)
    return f" (the spec sets {shown})" if shown else ""


# ---------------------------------------------------------------------- TOML out
def _key(k: str) -> str:
    return k if _BARE_KEY_RE.match(k) else json.dumps(k)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    return json.dumps(str(v))   # dates: specs have none; kept readable


#: Tables of a spec written as ``[name]`` sections (``[overrides.<profile>]`` under ``overrides``);
#: every other table is a value form (``{logspace = [...], num = 12}``) and stays inline.
_SECTIONS = ("grid", "zip", "overrides")


def to_toml(doc: dict[str, Any]) -> str:
    """TOML text of a spec document (values first, then sections and ``[[points]]`` rows)."""
    lines: list[str] = []

    def is_section(prefix: str, k: str, v: Any) -> bool:
        return isinstance(v, dict) and ((not prefix and k in _SECTIONS) or prefix == "overrides")

    def is_rows(prefix: str, k: str, v: Any) -> bool:
        return (not prefix and k == "points" and isinstance(v, list) and bool(v)
                and all(isinstance(x, dict) for x in v))

    def table(prefix: str, d: dict[str, Any]) -> None:
        for k, v in d.items():
            if not is_section(prefix, k, v) and not is_rows(prefix, k, v):
                lines.append(f"{_key(k)} = {_value(v)}")
        for k, v in d.items():
            name = f"{prefix}.{_key(k)}" if prefix else _key(k)
            if is_section(prefix, k, v):
                lines.extend(["", f"[{name}]"])
                table(name, v)
            elif is_rows(prefix, k, v):
                for row in v:
                    lines.extend(["", f"[[{name}]]"])
                    table(name, row)

    table("", doc)
    return "\n".join(lines).lstrip("\n") + "\n"


def effective_text(text: str, where: str, overrides: Sequence[str]) -> str:
    """The spec text with the overrides applied (the text itself when there are none)."""
    if not overrides:
        return text
    from runner.sweep.spec import parse_toml

    doc = apply(parse_toml(text, where), overrides, where)
    header = (f"# {Path(where).name} with command-line overrides: {' '.join(overrides)}\n"
              f"# (written by migsim; `migsim sweep` of this file gives the same run)\n")
    return header + to_toml(doc)


def load_spec(path: str | os.PathLike[str], overrides: Sequence[str] = ()):
    """:func:`runner.sweep.spec.load_spec` with overrides applied (see the module docstring).

    Returns
    -------
    Spec
        Its ``text`` is the overridden spec as TOML (what ``spec.toml`` records).
    """
    from runner.sweep import spec as sweep_spec

    if not overrides:
        return sweep_spec.load_spec(path)
    from models.errors import SpecError

    text = sweep_spec.read_spec_file(path)
    try:
        return sweep_spec.parse_spec(effective_text(text, str(path), overrides), str(path),
                                     default_name=Path(path).stem)
    except SpecError as exc:
        if type(exc) is not SpecError:
            raise
        # a bad value given on the command line: say so, naming the field as the spec would
        raise SpecError(f"{exc.where} (as overridden on the command line)", exc.field,
                        exc.value, exc.allowed) from None
