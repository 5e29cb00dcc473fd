"""Profile constants against what they claim to be (here: the qemu profile's switch-over state).

The `qemu` profile's device and vCPU state are measured the way `docs/qemu-validation-data.md`
describes: a paused QEMU migrated to a file sends, besides RAM, the state the stop-and-copy sends.
Heavy tier: needs ``qemu-system-x86_64`` (``.ci/run`` installs it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from models.policy import get_profile

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU")]

DEVICES = ["-vga", "std", "-device", "virtio-net-pci", "-device", "qemu-xhci",
           "-device", "usb-tablet", "-device", "virtio-balloon"]


def bytes_besides_ram(tmp_path: Path, vcpus: int, devices: list[str]) -> float:
    """Bytes a paused q35 guest's migration stream holds besides RAM (to ~1 KiB: HMP prints RAM
    bytes in KiB)."""
    out = tmp_path / f"state-{vcpus}-{len(devices)}.bin"
    hmp = f'migrate "exec:cat > {out}"\ninfo migrate\nquit\n'
    res = subprocess.run(["qemu-system-x86_64", "-accel", "tcg", "-machine", "q35", "-m", "64M",
                          "-smp", str(vcpus), "-nodefaults", "-no-user-config", "-display", "none",
                          "-S", "-monitor", "stdio", *devices],
                         input=hmp, capture_output=True, text=True, timeout=60)
    ram = re.search(r"transferred ram: (\d+) kbytes", res.stdout)
    assert ram and "completed" in res.stdout, res.stdout[-1000:] + res.stderr[-1000:]
    return out.stat().st_size - int(ram.group(1)) * 1024.0


def test_qemu_device_and_vcpu_state_are_what_qemu_sends(tmp_path):
    qemu = get_profile("qemu")
    per_vcpu = (bytes_besides_ram(tmp_path, 8, []) - bytes_besides_ram(tmp_path, 1, [])) / 7
    assert per_vcpu == pytest.approx(qemu.vcpu_state_bytes, rel=0.05)
    typical = bytes_besides_ram(tmp_path, 2, DEVICES)
    assert typical == pytest.approx(qemu.device_state_bytes + 2 * qemu.vcpu_state_bytes, rel=0.05)
