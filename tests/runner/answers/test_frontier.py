"""Frontiers: boundaries agree with a brute-force fine grid; bad requests are one line, exit 2."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import models
from runner.answers import frontier as fr
from runner.sweep.spec import parse_spec

SPEC = """
name = "fr"
dirty_pattern = "random"
[grid]
profile = ["vsphere-5.1", "qemu", "xen"]
memory = ["4GiB", "16GiB"]
link = ["1GbE", "10GbE"]
dirty_rate = ["1MB/s", "1GB/s"]
"""
PRED = "total_time_s <= 120 AND status = 'completed'"


def _brute(profile: str, memory: float, link: float, lo: float, hi: float, tol: float):
    """Last feasible and first infeasible dirty rate on a geometric grid of ratio 1 + tol / 4."""
    grid = np.exp(np.arange(np.log(lo), np.log(hi), np.log1p(tol / 4)))
    out = models.simulate({"profile": profile, "memory_bytes": memory, "link_bps": link,
                           "dirty_rate_Bps": grid, "dirty_pattern": "random"})
    ok = (out["status"] == "completed") & (out["total_time_s"] <= 120)
    return grid, ok


def test_boundaries_agree_with_a_fine_grid():
    spec = parse_spec(SPEC, "fr.toml")
    req = fr.request(spec, "max:dirty_rate", PRED, tol=1e-3, probes=4)
    result = fr.run(req)
    df = pl.from_arrow(fr.to_table(result))
    assert df.height == 12                                 # 3 x 2 x 2: dirty_rate is searched
    assert req.bracket == (1e6, 1e9)
    checked = 0
    for row in df.iter_rows(named=True):
        grid, ok = _brute(row["profile"], row["memory_bytes"], row["link_bps"], 1e6, 1e9, 1e-3)
        monotone = not np.any(np.diff(ok.astype(int)) > 0)     # feasible, then infeasible
        if not monotone:        # an island of the model (vSphere's SDPS): flagged, or bracketed
            assert row["outcome"] in ("non_monotone", "always_feasible", "found"), row
            continue
        if ok.all():
            assert row["outcome"] == "always_feasible" and row["dirty_rate_Bps"] == 1e9
        elif not ok.any():
            assert row["outcome"] == "never_feasible" and row["dirty_rate_Bps"] is None
        else:
            assert row["outcome"] == "found", row
            last_ok = grid[np.flatnonzero(ok)[-1]]
            b = row["dirty_rate_Bps"]
            assert abs(b - last_ok) <= 1.5e-3 * last_ok, (row, last_ok)
            # the two sides bracket the boundary within the tolerance, verdicts as stated
            assert b == row["feasible_dirty_rate_Bps"]
            assert b < row["infeasible_dirty_rate_Bps"] <= b * (1 + 1e-3)
            assert row["feasible_total_time_s"] <= 120
            assert row["infeasible_total_time_s"] is None or row["infeasible_total_time_s"] > 120
            checked += 1
    assert checked >= 3


def test_min_of_link_and_the_reversed_direction():
    spec = parse_spec(SPEC.replace('link = ["1GbE", "10GbE"]\n', ""), "fr.toml")
    req = fr.request(spec, "min:link", PRED, range_="100Mbps,100Gbps", probes=0)
    df = pl.from_arrow(fr.to_table(fr.run(req)))
    found = df.filter(pl.col("outcome") == "found")
    assert found.height > 0
    for row in found.iter_rows(named=True):
        lo = models.simulate({"profile": row["profile"], "memory_bytes": row["memory_bytes"],
                              "dirty_rate_Bps": row["dirty_rate_Bps"],
                              "link_bps": [row["link_bps"], row["link_bps"] * 0.99]})
        assert lo["total_time_s"][0] <= 120 and lo["status"][0] == "completed"
        assert not (lo["status"][1] == "completed" and lo["total_time_s"][1] <= 120)
    # max:link where more link is more feasible: the search says so instead of a wrong answer
    rev = fr.run(fr.request(spec, "max:link", PRED, range_="100Mbps,100Gbps", probes=0))
    assert set(rev.outcome) <= {"reversed", "always_feasible", "never_feasible"}
    assert "reversed" in set(rev.outcome)


def test_non_monotone_is_detected():
    # Hyper-V's 10-pass forced stop makes downtime a saw-tooth in the dirty rate
    spec = parse_spec('memory = "64GiB"\nprofile = "hyperv-2012"\nlink = "1GbE"\n'
                      'dirty_rate = ["1MB/s", "50MB/s"]\n', "h.toml")
    with_probes = fr.run(fr.request(spec, "max:dirty_rate", "downtime_ms <= 500", probes=16))
    without = fr.run(fr.request(spec, "max:dirty_rate", "downtime_ms <= 500", probes=0))
    assert list(with_probes.outcome) == ["non_monotone"]
    assert list(without.outcome) == ["found"]


def test_counts_are_searched_in_whole_numbers():
    spec = parse_spec('memory = "64GiB"\nprofile = "vsphere-5.1"\nlink = "1GbE"\n'
                      'dirty_rate = "50MB/s"\n', "n.toml")
    result = fr.run(fr.request(spec, "min:nics", "total_time_s <= 200", range_="1,16"))
    assert result.outcome[0] == "found"
    b = result.boundary[0]
    assert b == int(b) and result.infeasible.value[0] == b - 1


@pytest.mark.parametrize("find, pred, rng, message", [
    ("dirty_rate", PRED, None, "--find: invalid value 'dirty_rate'; allowed: max:FIELD"),
    ("max:dirty", PRED, None, "--find: invalid field 'dirty'; allowed: a numeric input"),
    ("max:profile", PRED, None, "--find: invalid field 'profile'"),
    ("max:dirty_rate", "downtme_ms <= 5", None, "--subject-to: unknown column 'downtme_ms'"),
    ("max:dirty_rate", "downtime_ms + 5", None, "is a Float64, not a condition"),
    ("max:dirty_rate", "downtime_ms <= 500 AND", None, "sql parser error"),
    ("max:dirty_rate", "x > 1; DROP TABLE results", None, "one SQL condition"),
    ("max:dirty_rate", "read_csv('/etc/hostname') IS NULL", None, "read_csv(...) is not allowed"),
    ("max:dirty_rate", PRED, "1GB/s", "--range: invalid value '1GB/s'; allowed: LO,HI"),
    ("max:dirty_rate", PRED, "1GB/s,1MB/s", "allowed: LO < HI"),
    ("max:dirty_rate", PRED, "1GB/s,2parsecs", "--range: dirty_rate: invalid value"),
    ("max:memory", PRED, None, "memory is fixed to one value"),
])
def test_bad_requests(find, pred, rng, message):
    spec = parse_spec('memory = "8GiB"\n[grid]\ndirty_rate = ["1MB/s", "1GB/s"]\n', "b.toml")
    with pytest.raises(fr.FrontierError) as exc:
        fr.request(spec, find, pred, range_=rng)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_a_zipped_or_random_field_is_refused():
    zipped = parse_spec('[zip]\ndirty_rate = ["1MB/s", "1GB/s"]\nmemory = ["1GiB", "2GiB"]\n',
                        "z.toml")
    with pytest.raises(fr.FrontierError, match="paired with memory_bytes in zip"):
        fr.request(zipped, "max:dirty_rate", PRED)
    drawn = parse_spec('dirty_rate = { uniform = ["1MB/s", "1GB/s"] }\n', "r.toml")
    with pytest.raises(fr.FrontierError, match="drawn at random"):
        fr.request(drawn, "max:dirty_rate", PRED)


def test_cli_frontier_query_plot(tmp_path, run_cli):
    spec = tmp_path / "f.toml"
    spec.write_text(SPEC)
    out = tmp_path / "run"
    args = ["frontier", spec, "--find", "max:dirty_rate", "--subject-to", PRED, "--out", out]
    r = run_cli(args)
    assert r.returncode == 0, r.stderr
    assert "12 boundaries of max:dirty_rate" in r.stderr
    q = run_cli(["query", out, "SELECT count(*) AS n, count(dirty_rate_Bps) AS b FROM frontier",
                 "--out", tmp_path / "q.csv"])
    assert q.returncode == 0, q.stderr
    n, b = (tmp_path / "q.csv").read_text().splitlines()[1].split(",")
    assert int(n) == 12 and int(b) >= 6
    man = __import__("json").loads((out / "run.json").read_text())
    assert man["kind"] == "migsim-frontier-run" and man["frontier"]["find"] == "max:dirty_rate"
    assert set(man["profiles"]) == {"vsphere-5.1", "qemu", "xen"}
    assert man["profiles"]["qemu"]["constants"]["downtime_limit_ms"]["value"] == 300.0
    again = run_cli(args)
    assert again.returncode == 0 and "nothing to compute" in again.stderr
    p = run_cli(["plot", out, "frontier", "--out", tmp_path / "f.png"])
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "f.png").stat().st_size > 10_000
    bad = run_cli(["frontier", spec, "--find", "max:dirty_rate", "--subject-to", "nope > 1",
                   "--out", tmp_path / "bad"])
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "unknown column 'nope'" in bad.stderr
    assert not (tmp_path / "bad").exists()
    sweep_plot = run_cli(["plot", out, "time", "--out", tmp_path / "t.png"])
    assert sweep_plot.returncode == 2
