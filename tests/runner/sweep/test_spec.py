"""Sweep specs: sections, value forms, units, validation, expansion order, fingerprints."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from models.errors import SpecError
from models.fields import INPUT_BY_NAME
from runner.sweep.plan import default_batch_size
from runner.sweep.spec import MAX_POINTS, load_spec, parse_spec

REPO = Path(__file__).resolve().parents[3]
SHIPPED = sorted(p for p in (REPO / "sweeps").glob("*.toml")
                 if 'kind = "scenario"' not in p.read_text())
GIB = 2.0**30


def col(spec, column, start=0, stop=None):
    """Full array of one column over points [start, stop)."""
    stop = spec.n_points if stop is None else stop
    v = spec.plan.expand(start, stop)[column]
    return np.broadcast_to(np.asarray(v if v is not None else np.nan), (stop - start,))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_specs_parse_and_expand(path: Path) -> None:
    spec = load_spec(path)
    assert spec.name == path.stem
    assert spec.n_points > 0
    cols = spec.plan.expand(0, min(spec.n_points, 50))
    assert len(cols["point_id"]) == min(spec.n_points, 50)


def test_shipped_specs_are_all_there() -> None:
    names = {p.stem for p in SHIPPED}
    assert {"quickstart", "vmsize-dirty-link", "convergence-map", "storage",
            "transports"} <= names


def test_scenario_specs_are_pointed_to_migsim_scenario() -> None:
    with pytest.raises(SpecError, match="migsim scenario"):
        parse_spec('kind = "scenario"\nname = "x"', "x.toml")
    with pytest.raises(SpecError, match="kind"):
        parse_spec('kind = "sweeep"')
    assert parse_spec('kind = "sweep"').n_points == 1


def test_grid_crosses_in_file_order_with_repeat_innermost() -> None:
    spec = parse_spec("""
        repeat = 2
        [grid]
        profile = ["qemu", "xen"]
        memory = ["1GiB", "2GiB", "4GiB"]
    """)
    assert spec.n_points == 2 * 3 * 2
    prof = [INPUT_BY_NAME["profile"].choices[int(c)] for c in col(spec, "profile")]
    assert prof == ["qemu"] * 6 + ["xen"] * 6
    assert list(col(spec, "memory_bytes") / GIB) == [1, 1, 2, 2, 4, 4] * 2
    seeds = col(spec, "seed")
    assert len(set(seeds.tolist())) == 12  # every point its own seed


def test_top_level_values_fixed_lists_crossed_distributions_per_point() -> None:
    spec = parse_spec("""
        memory = "16GiB"
        link = ["1GbE", "10GbE"]
        dirty_rate = { uniform = ["10MB/s", "20MB/s"] }
        repeat = 50
    """)
    assert spec.n_points == 100
    assert spec.plan.fixed["memory_bytes"] == 16 * GIB
    assert sorted(set(col(spec, "link_bps").tolist())) == [1e9, 10e9]
    d = col(spec, "dirty_rate_Bps")
    assert d.min() >= 10e6 and d.max() <= 20e6
    assert len(set(d.tolist())) == 100


def test_zip_pairs_and_points_list() -> None:
    spec = parse_spec("""
        memory = "8GiB"
        [zip]
        disk = ["10GiB", "20GiB", "30GiB"]
        storage = ["shared", "mirror", "iterative"]
        [[points]]
        vcpus = 4
        [[points]]
        memory = "64GiB"
        wws = "1GiB"
    """)
    assert spec.n_points == 3 * 2
    assert list(col(spec, "disk_bytes") / GIB) == [10, 10, 20, 20, 30, 30]
    assert list(col(spec, "storage")) == [0, 0, 1, 1, 2, 2]
    # a points row without memory falls back to the top-level value
    assert list(col(spec, "memory_bytes") / GIB) == [8, 64] * 3
    assert list(col(spec, "vcpus")) == [4, 2] * 3  # default 2 where unset
    wws = col(spec, "wws_bytes")
    assert math.isnan(wws[0]) and wws[1] == GIB  # unset: the profile decides (NaN -> null)


def test_range_includes_stop_and_takes_units() -> None:
    spec = parse_spec('[grid]\nmemory = { start = "4GiB", stop = "16GiB", step = "4GiB" }')
    assert list(col(spec, "memory_bytes") / GIB) == [4, 8, 12, 16]
    spec = parse_spec("[grid]\nzero_fraction = { start = 0.0, stop = 0.3, step = 0.1 }")
    assert list(col(spec, "zero_fraction")) == [0.0, 0.1, 0.2, 0.3]


def test_logspace_and_linspace_hit_exact_values() -> None:
    spec = parse_spec('[grid]\nmemory = { logspace = ["1GiB", "1TiB"], num = 11 }')
    mem = col(spec, "memory_bytes")
    assert list(mem) == [2.0**k for k in range(30, 41)]
    spec = parse_spec('[grid]\nrtt = { linspace = ["0ms", "5ms"], num = 6 }')
    assert list(col(spec, "rtt_ms")) == [0, 1, 2, 3, 4, 5]


def test_sampled_axis_with_num_is_drawn_once_from_the_seed() -> None:
    text = 'repeat = 3\n[grid]\ndirty_rate = { loguniform = ["1MB/s", "1GB/s"], num = 5 }'
    a = parse_spec("seed = 1\n" + text)
    b = parse_spec("seed = 1\n" + text)
    c = parse_spec("seed = 2\n" + text)
    assert a.plan.axes[0].length == 5
    np.testing.assert_array_equal(col(a, "dirty_rate_Bps"), col(b, "dirty_rate_Bps"))
    assert not np.array_equal(col(a, "dirty_rate_Bps"), col(c, "dirty_rate_Bps"))
    d = col(a, "dirty_rate_Bps")
    assert (d >= 1e6).all() and (d <= 1e9).all()
    assert (d[0::3] == d[1::3]).all()  # repeats share the grid value


def test_choice_distribution_respects_weights_and_choices() -> None:
    spec = parse_spec("""
        seed = 5
        repeat = 2000
        profile = { choice = ["qemu", "xen"], weights = [3, 1] }
        storage = { choice = ["mirror"] }
    """)
    prof = col(spec, "profile")
    share = (prof == INPUT_BY_NAME["profile"].choices.index("qemu")).mean()
    assert 0.70 < share < 0.80
    assert (col(spec, "storage") == 1).all()


def test_pages_per_second_uses_the_page_size() -> None:
    spec = parse_spec('page_size = "2MiB"\ndirty_rate = "100pages/s"')
    assert spec.plan.fixed["dirty_rate_Bps"] == 100 * 2 * 2**20
    spec = parse_spec('dirty_rate = "1000pages/s"')
    assert spec.plan.fixed["dirty_rate_Bps"] == 1000 * 4096
    spec = parse_spec("""
        [[points]]
        page_size = "2MiB"
        dirty_rate = "10pages/s"
        [[points]]
        dirty_rate = "10pages/s"
    """)
    assert list(col(spec, "dirty_rate_Bps")) == [10 * 2**21, 10 * 4096]


def test_pages_per_second_refused_when_page_size_is_swept() -> None:
    with pytest.raises(SpecError, match="page_size varies"):
        parse_spec('dirty_rate = "100pages/s"\n[grid]\npage_size = ["4KiB", "2MiB"]')


def test_profile_can_be_swept_and_overrides_are_checked() -> None:
    spec = parse_spec("""
        [grid]
        profile = ["vsphere-5.1", "qemu"]
        [overrides."vsphere-5.1"]
        downtime_limit_ms = 1000
        [overrides.qemu]
        max_bandwidth_Bps = inf
        remedy = "auto_converge"
    """)
    assert spec.plan.overrides["vsphere-5.1"] == {"downtime_limit_ms": 1000}
    assert spec.plan.overrides["qemu"]["max_bandwidth_Bps"] == math.inf
    with pytest.raises(SpecError, match=r"overrides\.qemu\.remedy"):
        parse_spec('[overrides.qemu]\nremedy = "pray"')
    with pytest.raises(SpecError, match=r"overrides\.qemu\.max_rounds.*a number"):
        parse_spec('[overrides.qemu]\nmax_rounds = "ten"')


def test_name_defaults_to_file_stem_and_is_checked(tmp_path: Path) -> None:
    p = tmp_path / "my-sweep.toml"
    p.write_text('memory = "1GiB"\n')
    assert load_spec(p).name == "my-sweep"
    with pytest.raises(SpecError, match="name"):
        parse_spec('name = "../etc"')


def test_fingerprint_is_stable_and_tracks_what_decides_rows() -> None:
    base = 'seed = 1\nmemory = { uniform = ["1GiB", "2GiB"] }\nrepeat = 4\n'
    a, b = parse_spec(base), parse_spec('description = "other words"\n' + base)
    assert a.fingerprint() == b.fingerprint()
    assert parse_spec(base.replace("seed = 1", "seed = 2")).fingerprint() != a.fingerprint()
    assert parse_spec(base.replace("repeat = 4", "repeat = 5")).fingerprint() != a.fingerprint()


def test_point_count_limit() -> None:
    big = "\n".join(f"{n} = {{ linspace = [1, 2], num = 1000 }}" for n in
                    ("vcpus", "nics", "compressibility", "rtt"))
    with pytest.raises(SpecError, match="at most"):
        parse_spec(big)
    assert MAX_POINTS >= 10_000_000


def test_expansion_is_memory_light_for_ten_million_points() -> None:
    spec = parse_spec("""
        dirty_rate = { loguniform = ["1MB/s", "1GB/s"] }
        repeat = 10000
        [grid]
        profile = ["vsphere-5.1", "hyperv-2012", "qemu", "xen"]
        memory = { logspace = ["1GiB", "512GiB"], num = 250 }
    """)
    assert spec.n_points == 10_000_000
    held = sum(v.nbytes for a in spec.plan.axes for v in a.values.values())
    assert held < 10_000  # the plan holds the axes, not the points
    last = spec.plan.expand(spec.n_points - 3, spec.n_points)
    assert list(last["point_id"]) == [9_999_997, 9_999_998, 9_999_999]


def test_default_batch_size() -> None:
    assert default_batch_size(10) == 1000
    assert default_batch_size(160_000) == 10_000
    assert default_batch_size(10_000_000) == 200_000


grid_values = st.lists(st.integers(1, 64), min_size=1, max_size=5, unique=True)


@settings(max_examples=40, deadline=None)
@given(mem=grid_values, vcpus=grid_values, repeat=st.integers(1, 4), seed=st.integers(0, 2**32),
       cuts=st.lists(st.floats(0, 1), max_size=4))
def test_batches_concatenate_to_the_whole_sweep(mem, vcpus, repeat, seed, cuts) -> None:
    """However the sweep is cut into batches, the points are the same."""
    spec = parse_spec(f"""
        seed = {seed}
        repeat = {repeat}
        zero_fraction = {{ uniform = [0.0, 0.5] }}
        [grid]
        memory = {[f"{m}GiB" for m in mem]}
        vcpus = {vcpus}
    """.replace("'", '"'))
    n = spec.n_points
    assert n == len(mem) * len(vcpus) * repeat
    bounds = sorted({0, n, *(int(c * n) for c in cuts)})
    whole = spec.plan.expand(0, n)
    for column in ("point_id", "seed", "memory_bytes", "vcpus", "zero_fraction"):
        parts = [np.broadcast_to(spec.plan.expand(a, b)[column], (b - a,))
                 for a, b in zip(bounds, bounds[1:]) if b > a]
        np.testing.assert_array_equal(np.concatenate(parts),
                                      np.broadcast_to(whole[column], (n,)))
    # the naive cross product, for the grid columns
    expect_mem = np.repeat(np.tile(np.repeat(np.array(mem, float) * GIB, len(vcpus)), 1), repeat)
    np.testing.assert_array_equal(np.broadcast_to(whole["memory_bytes"], (n,)), expect_mem)
