"""A spec without topology gives the rows it gave before topology existed, bit for bit.

``tests/data/scenario_flat/digests.json`` holds, for every scenario spec shipped before topology,
background traffic, datastore throughput and host capacity came in (issue 14), a SHA-256 per
scenario point of every row column (dtype and raw bytes), the summary and the host books, recorded
with the engine of that time (main at f697c94, run from an archive of that commit) — the topology
engine gives the same digests. The rows also follow the single-migration physics, so the fixture
carries a fingerprint of the physics modules (every ``models/*.py`` but the scenario layer); when
the physics change on purpose the test says so, and ``python tests/models/test_scenario_flat.py
--record`` records the digests again.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from models.scenario import run  # noqa: E402
from runner.scenario.spec import load_scenario  # noqa: E402

FIXTURE = ROOT / "tests" / "data" / "scenario_flat" / "digests.json"
#: The scenario specs shipped before issue 14 (flat: no topology, no capacities).
FLAT_SPECS = ("evacuate-vsphere", "evacuate-hyperv", "concurrency-sweep")
#: The scenario layer: what this test guards (the other models/*.py are the physics).
SCENARIO_LAYER = {"scenario.py", "sharing.py", "placement.py", "admission.py", "topology.py"}


def physics() -> str:
    """SHA-256 of the physics modules (models/*.py outside the scenario layer)."""
    h = hashlib.sha256()
    for f in sorted((ROOT / "models").glob("*.py")):
        if f.name not in SCENARIO_LAYER:
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def digest(res, keys: dict[str, list[str]]) -> str:
    """SHA-256 of a result: the row columns' dtypes and bytes, the summary, the host books (the
    ``keys`` recorded: columns added since are not part of the old rows)."""
    h = hashlib.sha256()
    for k in keys["rows"]:
        a = np.asarray(res.rows[k])
        h.update(k.encode())
        h.update(str(a.dtype).encode())
        if a.dtype.kind == "O":
            h.update(repr(a.tolist()).encode())
        else:
            h.update(np.ascontiguousarray(a).tobytes())
    for k in keys["summary"]:
        h.update(f"{k}={res.summary[k]!r}".encode())
    h.update(repr([[(k, s[k]) for k in keys["host"]] for s in res.host_stats]).encode())
    return h.hexdigest()


def results(name: str) -> list:
    spec = load_scenario(ROOT / "sweeps" / f"{name}.toml")
    return [run(scn) for _, scn in spec.scenarios()]


@pytest.mark.parametrize("name", FLAT_SPECS)
def test_flat_spec_gives_the_recorded_rows_bit_for_bit(name):
    fx = json.loads(FIXTURE.read_text())
    if fx.get("physics") != physics():
        pytest.fail("the physics modules (models/*.py outside the scenario layer) changed since "
                    f"{FIXTURE.name} was recorded: if the rows are meant to move, record them again "
                    "with python tests/models/test_scenario_flat.py --record")
    got = results(name)
    for r in got:
        assert set(fx["keys"]["rows"]) <= set(r.rows)
        assert set(fx["keys"]["summary"]) <= set(r.summary)
    assert [digest(r, fx["keys"]) for r in got] == fx["specs"][name]


def record() -> None:
    out: dict = {"physics": physics(), "specs": {}}
    for n in FLAT_SPECS:
        res = results(n)
        out["keys"] = {"rows": sorted(res[0].rows), "summary": sorted(res[0].summary),
                       "host": sorted(res[0].host_stats[0])}
        out["specs"][n] = [digest(r, out["keys"]) for r in res]
    FIXTURE.write_text(json.dumps(out, indent=1) + "\n")
    print(f"recorded {FIXTURE}")


if __name__ == "__main__" and "--record" in sys.argv:
    record()
