"""Bad environments: one clear line and exit status 2, before any run; tc shaping always removed."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import struct
import textwrap
from pathlib import Path

import pytest

from runner.measure import guest
from runner.measure.errors import MeasureEnvironmentError
from runner.measure.qemu import TC_HANDLE, ShapedLink, check_environment, free_port

QEMU = shutil.which("qemu-system-x86_64")
needs_qemu = pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 not installed")

UNSHAPED = 'memory = "64MiB"\nwws = "1MiB"\ndirty_rate = "100pages/s"\n'
SHAPED = UNSHAPED + 'link = "200Mbit/s"\n'


def fake_path(tmp_path: Path, *tools: str) -> str:
    """A PATH holding only ``tools`` (links to the real programs)."""
    d = tmp_path / "bin"
    d.mkdir(exist_ok=True)
    for t in tools:
        real = shutil.which(t)
        if real is None:
            pytest.skip(f"{t} not installed")
        (d / t).symlink_to(real)
    return str(d)


def run_bad(run_cli, tmp_path, spec_text: str, path: str, **env: str):
    spec = tmp_path / "s.toml"
    spec.write_text(spec_text)
    out = tmp_path / "out"
    res = run_cli(["measure", "qemu", spec, "--out", out], timeout=60, PATH=path, **env)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("migsim: error: "), res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()      # nothing created before the environment is checked
    return lines[0]


def test_no_qemu(run_cli, tmp_path):
    line = run_bad(run_cli, tmp_path, UNSHAPED, fake_path(tmp_path))
    assert "QEMU not found" in line and "apt-get install -y qemu-system-x86" in line


@needs_qemu
def test_no_tc_when_a_link_is_shaped(run_cli, tmp_path):
    line = run_bad(run_cli, tmp_path, SHAPED, fake_path(tmp_path, "qemu-system-x86_64"))
    assert "tc not found" in line and "iproute2" in line


@needs_qemu
def test_no_gcc_to_build_the_guest(run_cli, tmp_path):
    line = run_bad(run_cli, tmp_path, UNSHAPED, fake_path(tmp_path, "qemu-system-x86_64"),
                   MIGSIM_CACHE=str(tmp_path / "cache"))
    assert "gcc not found" in line and "apt-get install" in line


@needs_qemu
def test_no_free_port(run_cli, tmp_path):
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    port = held.getsockname()[1]
    try:
        text = UNSHAPED + f"[measure]\nports = [{port}, {port}]\n"
        line = run_bad(run_cli, tmp_path, text, os.environ["PATH"])
        assert f"no free TCP port on 127.0.0.1 in {port}-{port}" in line
    finally:
        held.close()


def test_tc_not_needed_for_unshaped_links(tmp_path, monkeypatch):
    if QEMU is None:
        pytest.skip("qemu-system-x86_64 not installed")
    monkeypatch.setenv("PATH", fake_path(tmp_path, "qemu-system-x86_64"))
    tools = check_environment(need_tc=False)
    assert tools.tc is None and tools.qemu.endswith("qemu-system-x86_64")
    with pytest.raises(MeasureEnvironmentError, match="tc not found"):
        check_environment(need_tc=True)


def test_free_port_is_bindable():
    p = free_port()
    s = socket.socket()
    s.bind(("127.0.0.1", p))
    s.close()


def test_dry_run_needs_no_qemu(run_cli, tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(SHAPED + "[measure]\nrepeats = 3\n")
    res = run_cli(["measure", "qemu", spec, "--dry-run"], timeout=60, PATH=fake_path(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "3 runs (1 points x 3 repeats)" in res.stdout and "link 200 Mbit/s" in res.stdout


# ---------------------------------------------------------------------------- tc, with a fake tc
def fake_tc(tmp_path: Path, root_line: str = "qdisc noqueue 0: root refcnt 2", fail: str = "") -> tuple[str, Path]:
    log = tmp_path / "tc.log"
    script = tmp_path / "tc"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo "$*" >> {log}
        case "$*" in
          "qdisc show dev lo") echo "{root_line}";;
          *"{fail or '@never@'}"*) echo "RTNETLINK answers: nope" >&2; exit 2;;
        esac
        exit 0
        """))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script), log


def test_shaping_adds_class_and_filter_on_the_port_and_always_removes_them(tmp_path):
    tc, log = fake_tc(tmp_path)
    with pytest.raises(RuntimeError):
        with ShapedLink(tc, 45678, 200e6, 131072):
            raise RuntimeError("the migration failed")
    calls = log.read_text().splitlines()
    assert calls[0] == "qdisc show dev lo"
    assert calls[1] == f"qdisc add dev lo root handle {TC_HANDLE}: htb"
    assert "rate 200000000bit ceil 200000000bit burst 131072" in calls[2]
    assert "match ip dport 45678 0xffff" in calls[3]
    assert calls[-1] == "qdisc del dev lo root"


def test_a_failing_tc_step_removes_what_was_added(tmp_path):
    tc, log = fake_tc(tmp_path, fail="class add")
    with pytest.raises(MeasureEnvironmentError, match="tc class add .* failed: RTNETLINK answers: nope"):
        with ShapedLink(tc, 1, 1e8, 131072):
            pass
    assert log.read_text().splitlines()[-1] == "qdisc del dev lo root"


def test_a_stale_shaping_of_ours_is_removed_and_a_foreign_one_refused(tmp_path):
    tc, log = fake_tc(tmp_path, root_line=f"qdisc htb {TC_HANDLE}: root refcnt 2 r2q 10")
    with ShapedLink(tc, 1, 1e8, 131072):
        pass
    assert log.read_text().splitlines()[1] == "qdisc del dev lo root"
    other = tmp_path / "other"
    other.mkdir()
    tc2, _ = fake_tc(other, root_line="qdisc fq_codel 8001: root refcnt 2")
    with pytest.raises(MeasureEnvironmentError, match="lo already has a root qdisc"):
        with ShapedLink(tc2, 1, 1e8, 131072):
            pass


# ---------------------------------------------------------------------------- the guest build
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("ld") is None,
                               reason="gcc/ld not installed")


@needs_gcc
def test_guest_builds_a_32bit_multiboot_kernel_once(tmp_path):
    elf = guest.build(tmp_path)
    assert elf == tmp_path / f"guest-{guest.source_hash()}" / "guest.elf"
    data = elf.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 1               # 32-bit ELF
    assert struct.unpack_from("<H", data, 18)[0] == 3            # EM_386
    head = data[:8192]
    i = next(i for i in range(0, len(head) - 12, 4)
             if struct.unpack_from("<I", head, i)[0] == 0x1BADB002)
    magic, flags, check = struct.unpack_from("<III", head, i)
    assert (magic + flags + check) & 0xFFFFFFFF == 0
    mtime = elf.stat().st_mtime_ns
    assert guest.build(tmp_path) == elf and elf.stat().st_mtime_ns == mtime   # cached


@needs_gcc
def test_changed_guest_sources_build_anew(tmp_path, monkeypatch):
    src = tmp_path / "src"
    shutil.copytree(guest.SOURCES, src)
    monkeypatch.setattr(guest, "SOURCES", src)
    h1 = guest.source_hash()
    (src / "guest.c").write_text((src / "guest.c").read_text() + "\n/* changed */\n")
    h2 = guest.source_hash()
    assert h1 != h2
    assert guest.build(tmp_path / "cache").parent.name == f"guest-{h2}"


@needs_gcc
def test_a_broken_guest_source_is_one_clear_error(tmp_path, monkeypatch):
    src = tmp_path / "src"
    shutil.copytree(guest.SOURCES, src)
    (src / "guest.c").write_text("this is not C\n")
    monkeypatch.setattr(guest, "SOURCES", src)
    with pytest.raises(MeasureEnvironmentError, match="building the guest: gcc guest.c failed"):
        guest.build(tmp_path / "cache")


def test_work_dirs_of_killed_harnesses_are_removed(tmp_path):
    import subprocess
    import sys

    from runner.measure.harness import clean_stale_work_dirs

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f"migsim-qemu-{dead}-abc"
    live = tmp_path / f"migsim-qemu-{os.getpid()}-def"
    other = tmp_path / "migsim-qemu-notapid"
    for d in (stale, live, other):
        d.mkdir()
    assert clean_stale_work_dirs(tmp_path) == 1
    assert not stale.exists() and live.exists() and other.exists()
