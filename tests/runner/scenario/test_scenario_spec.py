"""Scenario specs: shipped files, expansion, sweeps of scenario fields, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.errors import SpecError
from runner.scenario.spec import column_name, load_scenario, parse_scenario

SWEEPS = Path(__file__).resolve().parents[3] / "sweeps"
SHIPPED = ["evacuate-vsphere", "evacuate-hyperv", "concurrency-sweep", "rack-uplinks",
           "maintenance-cluster"]

BASE = """
kind = "scenario"
name = "t"
profile = "vsphere-5.1"
[[hosts]]
name = "esx"
count = 3
link = "10GbE"
datastores = ["san"]
[[vms]]
name = "web"
count = 4
host = "esx-1"
memory = "4GiB"
dirty_rate = "20MB/s"
[plan]
evacuate = "esx-1"
"""


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_specs_load(name):
    spec = load_scenario(SWEEPS / f"{name}.toml")
    assert spec.name == name
    assert spec.n_points >= 2
    for i in range(spec.n_points):
        scn = spec.scenario(i)
        assert len(scn.moves) >= 16


def test_shipped_vsphere_spec_sweeps_link():
    spec = load_scenario(SWEEPS / "evacuate-vsphere.toml")
    assert spec.swept() == ["hosts.link"]
    links = {spec.scenario(i).hosts[0].link_bps for i in range(2)}
    assert links == {1e9, 10e9}
    vms = spec.scenario(0).vms
    assert len(vms) == 16 and {v.host for v in vms} == {"esx-1"}


def test_counts_and_host_groups():
    spec = parse_scenario(BASE)
    scn = spec.scenario(0)
    assert [h.name for h in scn.hosts] == ["esx-1", "esx-2", "esx-3"]
    assert [v.name for v in scn.vms] == ["web-1", "web-2", "web-3", "web-4"]
    assert [m.destination for m in scn.moves] == ["esx-2", "esx-3", "esx-2", "esx-3"]
    assert all(m.kind == "live" for m in scn.moves)


def test_vms_spread_over_a_host_group():
    spec = parse_scenario(BASE.replace('host = "esx-1"', 'host = "esx"'))
    assert [v.host for v in spec.scenario(0).vms] == ["esx-1", "esx-2", "esx-3", "esx-1"]


def test_per_vm_draws_are_reproducible_and_the_same_at_every_point():
    text = BASE.replace('dirty_rate = "20MB/s"', 'dirty_rate = { uniform = ["10MB/s", "90MB/s"] }') + \
        '[grid]\nhosts.link = ["1GbE", "10GbE"]\n'
    a, b = parse_scenario(text), parse_scenario(text)
    rates = [v.input("dirty_rate_Bps") for v in a.scenario(0).vms]
    assert len(set(rates)) == 4 and all(10e6 <= r <= 90e6 for r in rates)
    assert rates == [v.input("dirty_rate_Bps") for v in a.scenario(1).vms]
    assert rates == [v.input("dirty_rate_Bps") for v in b.scenario(0).vms]
    other = parse_scenario(text.replace('name = "t"', 'name = "t"\nseed = 9'))
    assert rates != [v.input("dirty_rate_Bps") for v in other.scenario(0).vms]


def test_grid_and_zip_of_scenario_fields():
    text = BASE + """
[grid]
overrides.max_live_migrations = [1, 2, 4]
plan.placement = ["round-robin", "least-loaded"]
[zip]
vms.web.count = [2, 4]
vms.memory = ["8GiB", "2GiB"]
"""
    spec = parse_scenario(text)
    assert spec.n_points == 3 * 2 * 2
    assert spec.swept() == ["overrides.max_live_migrations", "plan.placement", "vms.web.count",
                            "vms.memory"]
    v = spec.point_values(spec.n_points - 1)
    assert v == {"overrides.max_live_migrations": 4, "plan.placement": "least-loaded",
                 "vms.web.count": 4, "vms.memory": 2 * 2.0**30}
    scn = spec.scenario(spec.n_points - 1)
    assert len(scn.vms) == 4 and dict(scn.overrides)["max_live_migrations"] == 4
    assert spec.columns()["overrides.max_live_migrations"] == "overrides_max_live_migrations"
    assert column_name("hosts.esx.link") == "hosts_esx_link"


def test_ranges_in_a_sweep():
    spec = parse_scenario(BASE + "[grid]\noverrides.max_concurrent_migrations = "
                                 "{ start = 1, stop = 4, step = 1 }\n")
    assert [spec.scenario(i).max_concurrent for i in range(spec.n_points)] == [1, 2, 3, 4]


def test_explicit_moves_and_datastores():
    text = """
kind = "scenario"
[[hosts]]
name = "a"
datastores = ["la", "san"]
[[hosts]]
name = "b"
datastores = ["lb", "san"]
[[vms]]
name = "v"
count = 2
host = "a"
datastore = "la"
disk = "10GiB"
storage = "shared-nothing"
[[plan.moves]]
vm = "v-1"
datastore = "san"
start_s = "30s"
[[plan.moves]]
vm = "v-2"
to = "b"
"""
    scn = parse_scenario(text).scenario(0)
    assert [m.kind for m in scn.moves] == ["storage", "shared-nothing"]
    assert scn.moves[0].start_s == 30.0
    assert scn.moves[1].destination_datastore == "lb"


def _error(text: str) -> SpecError:
    with pytest.raises(SpecError) as e:
        parse_scenario(text, "x.toml")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("x.toml: ")
    return e.value


@pytest.mark.parametrize("mutate,field,value_part,allowed_part", [
    (lambda t: t.replace('kind = "scenario"\n', ""), "kind", "None", "scenario"),
    (lambda t: t.replace('profile = "vsphere-5.1"', 'profile = "vmware"'), "profile", "vmware",
     "vsphere-5.1"),
    (lambda t: t.replace('link = "10GbE"', 'link = "fast"'), "hosts[0].link", "fast", "bit/s"),
    # issue 12, item 8: an infinite link was accepted
    (lambda t: t.replace('link = "10GbE"', 'link = inf'), "hosts[0].link", "inf", "10 Tbit/s"),
    (lambda t: t.replace('count = 4', 'count = 0'), "vms[0].count", "0", ">= 1"),
    (lambda t: t.replace('host = "esx-1"', 'host = "esx-9"'), "vms[0].host", "esx-9", "esx-1"),
    (lambda t: t.replace('memory = "4GiB"', 'memory = "4 apples"'), "vms[0].memory", "4 apples",
     "size"),
    (lambda t: t.replace('memory = "4GiB"', 'link = "1GbE"'), "vms[0].link", "link",
     "[[hosts]]"),
    (lambda t: t.replace('memory = "4GiB"', 'memory = ["4GiB", "8GiB"]'), "vms[0].memory",
     "4GiB", "[grid]"),
    (lambda t: t.replace('evacuate = "esx-1"', 'evacuate = "esx-7"'), "plan.evacuate", "esx-7",
     "esx-1"),
    (lambda t: t.replace('evacuate = "esx-1"', 'evacuate = "esx-1"\nplacement = "random"'),
     "plan.placement", "random", "least-loaded"),
    (lambda t: t.replace('[plan]\nevacuate = "esx-1"', '[plan]'), "plan", "None", "evacuate"),
    (lambda t: t + "[overrides]\nmax_live_migration = 4\n", "overrides.max_live_migration",
     "max_live_migration", "max_live_migrations"),
    (lambda t: t + "[overrides]\nhost_cost = -1\n", "overrides.host_cost", "-1", ">= 0"),
    (lambda t: t + "[grid]\nhosts.speed = [1]\n", "grid.hosts.speed", "hosts.speed", "link"),
    (lambda t: t + "[grid]\nvms.nope.memory = [1]\n", "grid.vms.nope.memory", "nope", "web"),
    (lambda t: t + "[grid]\nvms.memory = [\"1GiB\", \"lots\"]\n", "grid.vms.memory[1]", "lots",
     "size"),
    (lambda t: "colour = 3\n" + t, "colour", "colour", "a scenario key"),
    # issue 14: topology, capacity, maintenance
    (lambda t: t + "[network]\nuplinks = 1\n", "network.uplinks", "uplinks", "uplink"),
    (lambda t: t + '[network]\nuplink = "fast"\n', "network.uplink", "fast", "bit/s"),
    (lambda t: t + '[network]\nuplink = "10Gbps"\noversubscription = 3\n',
     "network.oversubscription", "3", "not both"),
    (lambda t: t + "[network]\nmigration_shares = 0\n", "network.migration_shares", "0", "1"),
    (lambda t: t + '[network.datastores]\nnas = "1GB/s"\n', "network.datastores.nas", "nas",
     "san"),
    (lambda t: t.replace('datastores = ["san"]', 'datastores = ["san"]\nmemory = "-1GiB"'),
     "hosts[0].memory", "-1GiB", "> 0"),
    (lambda t: t.replace('datastores = ["san"]', 'datastores = ["san"]\nrack = "r"\n'
                         'rack_size = 2'), "hosts[0].rack_size", "2", "not both"),
    (lambda t: t + 'after = "back"\n', "plan.after", "back", "rebalance"),
    (lambda t: t + 'unit = "rack"\n', "plan.maintenance", "None", "maintenance time"),
    (lambda t: t + 'maintenance = "forever"\n', "plan.maintenance", "forever", "duration"),
    (lambda t: t + "memory_overcommit = 0\n", "plan.memory_overcommit", "0", "0.01"),
    (lambda t: t.replace('datastores = ["san"]', 'datastores = ["san"]\nrack_size = 2') +
     '[[network.racks]]\nname = "esx-rack-2"\nsite = "dr"\n', "network.wan", "esx-1 -> esx-3",
     "between sites default and dr"),
    (lambda t: t + "[grid]\nnetwork.colour = [1]\n", "grid.network.colour", "network.colour",
     "network.oversubscription"),
    (lambda t: t + "colour = 3\n", "plan.colour", "colour", "a plan key"),
])
def test_bad_specs_name_file_field_value_and_allowed(mutate, field, value_part, allowed_part):
    err = _error(mutate(BASE))
    assert err.field == field
    assert value_part in repr(err.value) or value_part in str(err.value)
    assert allowed_part in err.allowed


def test_error_from_a_sweep_point_names_the_point():
    text = BASE + '[[plan.moves]]\nvm = "web-4"\nto = "esx-1"\n[grid]\nvms.web.count = [4, 2]\n'
    err = _error(text)
    assert err.field == "plan.moves[0].vm" and err.value == "web-4"
    assert "sweep point 1" in err.allowed and "vms.web.count = 2" in err.allowed


def test_sweep_spec_is_not_a_scenario():
    err = _error('name = "s"\nmemory = "4GiB"\n')
    assert err.field == "kind" and "migsim sweep" in err.allowed


def test_not_toml(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("kind = \n")
    with pytest.raises(SpecError) as e:
        load_scenario(p)
    assert str(p) in str(e.value) and "TOML" in str(e.value)


def test_fingerprint_ignores_name_and_description():
    a = parse_scenario(BASE)
    b = parse_scenario(BASE.replace('name = "t"', 'name = "u"\ndescription = "x"'))
    c = parse_scenario(BASE.replace('"20MB/s"', '"21MB/s"'))
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def test_defaults_apply_to_every_vm_unless_overridden():
    text = BASE.replace('[[vms]]', '[defaults]\nrtt = "2ms"\ndirty_rate = "5MB/s"\n[[vms]]')
    text = text.replace('dirty_rate = "20MB/s"\n', "")
    vms = parse_scenario(text).scenario(0).vms
    assert {v.input("rtt_ms") for v in vms} == {2.0}
    assert {v.input("dirty_rate_Bps") for v in vms} == {5e6}


def test_sweeping_names_subnets_and_hosts():
    text = BASE + '[grid]\nhosts.esx-3.subnet = ["default", "other"]\nvms.web.host = ["esx-1", "esx-2"]\n'
    spec = parse_scenario(text.replace('[[hosts]]\nname = "esx"\ncount = 3',
                                       '[[hosts]]\nname = "esx"\ncount = 2\n[[hosts]]\nname = "esx-3"')
                          .replace('evacuate = "esx-1"', 'evacuate = "esx-1"\nto = ["esx-3"]'))
    assert spec.n_points == 4
    assert [h.subnet for h in spec.scenario(1).hosts] == ["default"] * 3
    assert [h.subnet for h in spec.scenario(2).hosts] == ["default", "default", "other"]
    assert spec.point_values(3) == {"hosts.esx-3.subnet": "other", "vms.web.host": "esx-2"}
    assert len(spec.scenario(3).moves) == 0          # nothing on esx-1 to evacuate


TOPO = BASE.replace('datastores = ["san"]', 'datastores = ["san"]\nrack_size = 2\n'
                    'memory = "16GiB"\nmemory_used = "10GiB"\nbackground = "2Gbps"')


def test_network_racks_capacity_and_maintenance_in_a_spec():
    text = TOPO + 'maintenance = "10min"\nafter = "return"\n' + \
        '[network]\noversubscription = 4\nnioc = true\nspine = "100Gbps"\n' + \
        '[network.datastores]\nsan = "500MB/s"\n'
    scn = parse_scenario(text).scenario(0)
    assert [h.rack for h in scn.hosts] == ["esx-rack-1", "esx-rack-1", "esx-rack-2"]
    assert scn.hosts[0].memory_capacity_bytes == 16 * 2**30
    assert scn.hosts[0].background_bps == 2e9
    net = scn.network
    assert [(r.name, r.uplink_bps) for r in net.racks] == [("esx-rack-1", 5e9), ("esx-rack-2", 2.5e9)]
    assert net.spine_bps == (("default", 100e9),) and net.datastore_Bps == (("san", 500e6),)
    assert net.nioc is not None and net.nioc.migration_shares == 50.0
    # 6 GiB free on esx-2 and esx-3: a 4 GiB VM fits on each, the other two are refused
    refused = [m for m in scn.moves if m.refused]
    assert len(refused) == 2 and all("no destination has room" in m.refused for m in refused)
    assert [s.role for s in scn.stages] == ["evacuate", "return"]


def test_sweeping_network_and_plan_fields():
    text = TOPO + 'maintenance = "10min"\n[grid]\nnetwork.oversubscription = [1, 3]\n' + \
        'plan.after = ["return", "stay"]\nhosts.memory = ["16GiB", "1TiB"]\n'
    spec = parse_scenario(text)
    assert spec.n_points == 8
    assert spec.columns()["network.oversubscription"] == "network_oversubscription"
    last = spec.scenario(7)
    assert last.network.racks[0].uplink_bps == pytest.approx(20e9 / 3)
    assert last.stages[1].role == "stay" and not any(m.refused for m in last.moves)


def test_rack_uplinks_spec_uplinks_follow_the_oversubscription():
    spec = load_scenario(SWEEPS / "rack-uplinks.toml")
    ups = sorted({spec.scenario(i).network.racks[0].uplink_bps for i in range(spec.n_points)})
    assert ups == [10e9, 20e9, 40e9, 80e9]
