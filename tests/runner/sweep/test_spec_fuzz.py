"""Hypothesis fuzz of the sweep and scenario spec parsers (issue 12, "What was seen" 7).

Structured: a shipped spec (as TOML text) with one mutation — a value replaced by an arbitrary
TOML value, a key removed or added, a value wrapped in a list or a table, or a nesting 30 to 3,000
levels deep put somewhere. Whatever the text, the parser either returns a spec or raises one of
the project's own errors (a :class:`models.errors.MigsimError`): never a ``TypeError``,
``RecursionError``, ``KeyError``, ... The fast tier runs a few dozen examples per parser; the heavy
tier (``-m slow``) runs 2,000 per parser.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.errors import MigsimError
from runner.scenario.spec import parse_scenario
from runner.sweep.spec import parse_spec

SWEEPS = Path(__file__).resolve().parents[3] / "sweeps"
TEXTS = {p.name: p.read_text() for p in sorted(SWEEPS.glob("*.toml"))}
DOCS = {n: tomllib.loads(t) for n, t in TEXTS.items()}
SWEEP_DOCS = [d for d in DOCS.values() if d.get("kind", "sweep") != "scenario"]
SCENARIO_DOCS = [d for d in DOCS.values() if d.get("kind") == "scenario"]
WORDS = ["16GiB", "10GbE", "200MB/s", "300ms", "qemu", "xen", "vsphere-5.1", "hyperv-2012",
         "esx-1", "esx", "web", "san-1", "shared", "mirror", "inf", "nan", "-1GiB", "1e999",
         "7000pages/s", "", " ", "true", "linspace", "num", "start"]


class Raw(str):
    """TOML text put in a document as is (deep nestings, written without recursion)."""


def toml_value(v: Any) -> str:
    """A value as inline TOML (arrays and inline tables for everything)."""
    if isinstance(v, Raw):
        return str(v)
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
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)} = {toml_value(x)}"
                           for k, x in v.items()) + "}"


def toml_doc(doc: dict[str, Any]) -> str:
    """A document as TOML text (one ``key = value`` line per top-level key)."""
    return "\n".join(f"{json.dumps(k, ensure_ascii=False)} = {toml_value(v)}"
                     for k, v in doc.items()) + "\n"


text_values = st.one_of(st.sampled_from(WORDS),
                        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126),
                                max_size=12))
scalars = st.one_of(
    st.booleans(),
    st.integers(-3, 12),
    st.sampled_from([0, -1, 2**31, 2**63 - 1, -(2**63), 10**12]),
    st.floats(allow_nan=True, allow_infinity=True),
    text_values,
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(text_values, st.sampled_from(["num", "start", "stop", "step",
                                                            "linspace", "logspace", "uniform",
                                                            "choice", "weights", "name"])),
                    inner, max_size=4)), max_leaves=8)


def _nest(depth: int, kind: str) -> Raw:
    if kind == "list":
        return Raw("[" * depth + "1" + "]" * depth)
    return Raw("{a = " * depth + "1" + "}" * depth)


@st.composite
def mutated(draw: st.DrawFn, bases: list[dict[str, Any]]) -> str:
    """A base document with one mutation, as TOML text."""
    import copy

    doc = copy.deepcopy(draw(st.sampled_from(bases)))
    # walk to a random container
    node: Any = doc
    for _ in range(draw(st.integers(0, 4))):
        kids = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        kids = [(k, v) for k, v in kids if isinstance(v, (dict, list)) and v]
        if not kids:
            break
        _, node = draw(st.sampled_from(kids))
    keys = list(node.keys()) if isinstance(node, dict) else list(range(len(node)))
    op = draw(st.sampled_from(["replace", "delete", "add", "wrap-list", "wrap-table", "deep"]))
    if op == "add" or not keys:
        key = draw(text_values) if isinstance(node, dict) else None
        val = draw(values)
        if isinstance(node, dict):
            node[key] = val
        else:
            node.append(val)
        return toml_doc(doc)
    key = draw(st.sampled_from(keys))
    if op == "delete":
        del node[key]
    elif op == "replace":
        node[key] = draw(values)
    elif op == "wrap-list":
        node[key] = [node[key]]
    elif op == "wrap-table":
        node[key] = {draw(st.sampled_from(["name", "x", "num"])): node[key]}
    else:
        node[key] = _nest(draw(st.sampled_from([30, 100, 999, 3000])),
                          draw(st.sampled_from(["list", "table"])))
    return toml_doc(doc)


def _only_migsim_errors(parse: Any, text: str) -> None:
    try:
        parse(text)
    except MigsimError as exc:
        assert "\n" not in str(exc).strip(), str(exc)


COMMON = dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def test_the_serialiser_round_trips_every_shipped_spec() -> None:
    for name, doc in DOCS.items():
        assert tomllib.loads(toml_doc(doc)) == doc, name


@settings(max_examples=60, **COMMON)
@given(mutated(SWEEP_DOCS))
def test_sweep_parser_fast(text: str) -> None:
    _only_migsim_errors(parse_spec, text)


@settings(max_examples=40, **COMMON)
@given(mutated(SCENARIO_DOCS))
def test_scenario_parser_fast(text: str) -> None:
    _only_migsim_errors(parse_scenario, text)


@pytest.mark.slow
@settings(max_examples=2000, **COMMON)
@given(mutated(SWEEP_DOCS))
def test_sweep_parser_2000(text: str) -> None:
    _only_migsim_errors(parse_spec, text)


@pytest.mark.slow
@settings(max_examples=2000, **COMMON)
@given(mutated(SCENARIO_DOCS))
def test_scenario_parser_2000(text: str) -> None:
    _only_migsim_errors(parse_scenario, text)


@pytest.mark.parametrize("parse,prefix", [(parse_spec, ""), (parse_scenario, 'kind = "scenario"\n')])
@pytest.mark.parametrize("body", [
    "x = " + "[" * 3000 + "]" * 3000,
    "x = " + "{a = " * 3000 + "1" + "}" * 3000,
    "[grid]\n" + ".".join(["a"] * 3000) + " = 1\n",
])
def test_deep_nesting_is_a_spec_error(parse: Any, prefix: str, body: str) -> None:
    """3,000-deep lists, tables or dotted keys: a one-line SpecError, not a RecursionError."""
    from models.errors import SpecError

    with pytest.raises(SpecError, match="nest|deep|unknown|allowed"):
        parse(prefix + body)
