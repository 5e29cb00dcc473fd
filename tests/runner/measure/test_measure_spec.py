"""The harness spec: a sweep spec (same expansion machinery) plus [measure], into runs."""

from __future__ import annotations

import math

import pytest

from models.errors import SpecError
from runner.measure.guest import PAGE
from runner.measure.spec import parse_measure_spec

SPEC = """
name = "t"
memory = "64MiB"
wws = "8MiB"
dirty_pattern = "sequential"
[grid]
max_bandwidth = ["16MB/s", "32MB/s"]
dirty_rate = { start = "1000pages/s", stop = "3000pages/s", step = "1000pages/s" }
[measure]
repeats = 2
cancel_after = "12s"
"""


def test_grid_range_and_repeats_expand_into_runs():
    s = parse_measure_spec(SPEC, "t.toml")
    assert s.n_runs == 2 * 3 * 2 and s.repeats() == 2
    runs = [s.run(i) for i in range(s.n_runs)]
    assert [(p, r) for p, r, _ in runs[:4]] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert runs[0][2] == runs[1][2]              # repeats of a point: same inputs
    assert runs[0][2].max_bandwidth_Bps == 16e6 and runs[-1][2].max_bandwidth_Bps == 32e6
    assert [r[2].dirty_rate_Bps / PAGE for r in runs[::2][:3]] == [1000, 2000, 3000]
    assert runs[0][2].dirty_pattern == "sequential" and runs[0][2].wws_bytes == 8 * 2**20
    assert s.settings.cancel_after_s == 12.0


def test_unset_link_is_unshaped_and_points_may_shape_it():
    s = parse_measure_spec("""
memory = "64MiB"
[[points]]
dirty_rate = "100pages/s"
[[points]]
link = "200Mbit/s"
max_bandwidth = "10GB/s"
""", "p.toml")
    a, b = s.run(0)[2], s.run(1)[2]
    assert math.isinf(a.link_bps) and not a.shaped
    assert b.shaped and b.link_bps == 200e6 and b.max_bandwidth_Bps == 10e9
    assert a.max_bandwidth_Bps is None and a.downtime_limit_ms is None   # QEMU's defaults
    assert a.wws_bytes is None                                           # all memory


def test_repeats_map_onto_the_sweep_repeat_and_not_both():
    assert parse_measure_spec('memory = "64MiB"\nrepeat = 3\n', "r.toml").n_runs == 3
    with pytest.raises(SpecError, match="repeats or the sweep key repeat"):
        parse_measure_spec('memory = "64MiB"\nrepeat = 3\n[measure]\nrepeats = 2\n', "r.toml")


@pytest.mark.parametrize("text, match", [
    ('memory = "64MiB"\nprofile = "qemu"\n', "profile: unknown field.*not something the harness"),
    ('memory = "64MiB"\n[grid]\nvcpus = [1, 2]\n', "vcpus"),
    ('wws = "8MiB"\n', "memory: .*the harness has no default guest"),
    ('memory = "64MiB"\n[measure]\ncancel = "3s"\n', "measure.cancel: unknown field"),
    ('memory = "64MiB"\n[measure]\ncancel_after = "soon"\n', "measure.cancel_after"),
    ('memory = "64MiB"\n[measure]\nports = [5000, 4000]\n', "measure.ports"),
    ('memory = "64MiB"\nwws = "128MiB"\n', "do not fit"),
    ('memory = "64MiB"\nwws = "8MiB"\nhot_set = "60MiB"\n', "do not fit"),
    ('memory = "64MiB"\nwws = "0MiB"\ndirty_rate = "100pages/s"\n', "needs a working set"),
    ('memory = "64MiB"\ndirty_rate = { uniform = ["1MB/s", "2MB/s"] }\n', "per-point distribution"),
    ('memory = "64MiB"\n[grid]\nmemory = ["1GiB"]\n', "memory"),
])
def test_bad_specs_name_the_field(text, match):
    with pytest.raises(SpecError, match=match):
        parse_measure_spec(text, "bad.toml")


def test_fingerprint_covers_the_measure_table():
    a = parse_measure_spec(SPEC, "t.toml").fingerprint()
    b = parse_measure_spec(SPEC.replace('"12s"', '"13s"'), "t.toml").fingerprint()
    c = parse_measure_spec(SPEC.replace('name = "t"', 'name = "u"'), "t.toml").fingerprint()
    assert a != b and a == c


def test_guest_layout_fill_working_set_and_hot_set():
    s = parse_measure_spec("""
memory = "64MiB"
wws = "8MiB"
hot_set = "1MiB"
hot_rate = "500pages/s"
dirty_rate = "2000pages/s"
zero_fraction = 0.5
[measure]
wws_offset = "4MiB"
low_nonzero = "512KiB"
""", "l.toml")
    lay = s.run(0)[2].layout(s.settings.low_nonzero_bytes)
    assert (lay.ws, lay.wsoff, lay.hot, lay.hotoff) == (2048, 1024, 256, 3072)
    assert lay.fill == (32 * 2**20 - 512 * 1024) // PAGE
    assert (lay.rate, lay.hotrate) == (2000, 500)
    assert "fill=8064 ws=2048 wsoff=1024 rate=2000 pat=rand hot=256 hotoff=3072 hotrate=500" in lay.cmdline()
    # union of fill [0, 8064), ws [1024, 3072), hot [3072, 3328)
    assert lay.nonzero_pages() == 8064


def test_shipped_qemu_specs_parse():
    from pathlib import Path
    specs = sorted((Path(__file__).resolve().parents[3] / "sweeps" / "qemu").glob("*.toml"))
    assert specs
    total = 0
    for p in specs:
        from runner.measure.spec import load_measure_spec
        s = load_measure_spec(p)
        total += s.n_runs
        if s.name != "crosscheck":      # the training set's 45 s; the others: one data set
            assert s.settings.cancel_after_s == 20.0, p
    assert total >= 150
