"""The measurement guest: build it (system gcc/ld, 32-bit freestanding) into a cache, and its
kernel command line.

The sources (``guest/boot.S``, ``guest/guest.c``, ``guest/link.ld``) are built at run time into
``$MIGSIM_CACHE`` (default ``~/.cache/migsim``) ``/guest-<hash>/guest.elf``, where the hash covers
the sources and the build flags, so a changed source builds anew and the binary is never in the
repository. What the guest does is described in ``guest/guest.c``. Leaves out: running it (see
:mod:`runner.measure.harness`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from runner.measure.errors import MeasureEnvironmentError

SOURCES = Path(__file__).resolve().parent / "guest"
FILES = ("boot.S", "guest.c", "link.ld")
CFLAGS = ("-m32", "-march=i686", "-ffreestanding", "-fno-builtin", "-fno-pic", "-fno-pie",
          "-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-O2", "-Wall", "-nostdlib")
LDFLAGS = ("-m", "elf_i386", "--no-warn-rwx-segments")
PAGE = 4096
#: Guest-physical start of the guest's working memory (its code and stack live below).
BASE_BYTES = 4 * 2**20
#: ACPI PM timer I/O port on QEMU's ``pc`` machine (SeaBIOS puts the PIIX4 PM block at 0x600).
PM_PORT = 0x608
#: Pages below the top of RAM that the firmware reserves (e820; 128 KiB on ``pc``, kept at 256 KiB).
TOP_RESERVE_PAGES = 64


def source_hash() -> str:
    """Hash (16 hex digits) of the guest sources and build flags."""
    h = hashlib.sha256()
    for name in FILES:
        h.update(name.encode() + b"\0" + (SOURCES / name).read_bytes() + b"\0")
    h.update(" ".join(CFLAGS + LDFLAGS).encode())
    return h.hexdigest()[:16]


def cache_root() -> Path:
    """``$MIGSIM_CACHE`` or ``~/.cache/migsim``."""
    env = os.environ.get("MIGSIM_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "migsim"


def _run(argv: list[str], what: str) -> None:
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        raise MeasureEnvironmentError(f"building the guest: {what} failed to run: {exc}") from None
    if res.returncode != 0:
        msg = " ".join((res.stderr or res.stdout).split())[:400]
        hint = ""
        if "bits/" in msg or "gnu/stubs-32" in msg or "elf_i386" in msg or "-m32" in msg:
            hint = " (32-bit support missing? apt-get install -y gcc-multilib)"
        raise MeasureEnvironmentError(f"building the guest: {what} failed: {msg}{hint}")


def build(cache: Path | None = None) -> Path:
    """The guest kernel, built if its cache entry is missing.

    Parameters
    ----------
    cache : Path, optional
        Cache directory (default :func:`cache_root`).

    Returns
    -------
    Path
        ``<cache>/guest-<hash>/guest.elf``.

    Raises
    ------
    MeasureEnvironmentError
        If gcc or ld is missing or the build fails (one line, with the compiler's message).
    """
    out_dir = (cache or cache_root()) / f"guest-{source_hash()}"
    elf = out_dir / "guest.elf"
    if elf.is_file():
        return elf
    gcc, ld = shutil.which("gcc"), shutil.which("ld")
    if gcc is None or ld is None:
        missing = "gcc" if gcc is None else "ld"
        raise MeasureEnvironmentError(f"{missing} not found (the harness builds its guest kernel "
                                      f"at run time); install it with: apt-get install -y gcc "
                                      f"binutils")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".build-") as tmp:
        t = Path(tmp)
        _run([gcc, *CFLAGS, "-c", str(SOURCES / "guest.c"), "-o", str(t / "guest.o")], "gcc guest.c")
        _run([gcc, "-m32", "-c", str(SOURCES / "boot.S"), "-o", str(t / "boot.o")], "gcc boot.S")
        _run([ld, *LDFLAGS, "-T", str(SOURCES / "link.ld"), "-o", str(t / "guest.elf"),
              str(t / "boot.o"), str(t / "guest.o")], "ld")
        out_dir.mkdir(parents=True, exist_ok=True)
        os.replace(t / "guest.elf", elf)   # atomic: a concurrent build yields the same file
    return elf


@dataclass(frozen=True)
class GuestLayout:
    """What the guest does, in pages of 4 KiB counted from :data:`BASE_BYTES`.

    Attributes
    ----------
    fill, ws, wsoff, hot, hotoff : int
        Filled pages; working-set pages and first page; hot-set pages and first page.
    rate, hotrate : int
        Page writes per second on the working set and on the hot set.
    pattern : str
        ``sequential`` or ``random``.
    """

    fill: int
    ws: int
    wsoff: int
    hot: int
    hotoff: int
    rate: int
    hotrate: int
    pattern: str

    def cmdline(self) -> str:
        """The kernel command line (``-append``)."""
        pat = "rand" if self.pattern == "random" else "seq"
        return (f"fill={self.fill} ws={self.ws} wsoff={self.wsoff} rate={self.rate} pat={pat} "
                f"hot={self.hot} hotoff={self.hotoff} hotrate={self.hotrate} pmport={PM_PORT}")

    def nonzero_pages(self) -> int:
        """Pages above :data:`BASE_BYTES` that hold data (union of fill, working set, hot set)."""
        spans = sorted([(0, self.fill), (self.wsoff, self.wsoff + self.ws),
                        (self.hotoff, self.hotoff + self.hot)])
        total, end = 0, 0
        for a, b in spans:
            a = max(a, end)
            if b > a:
                total += b - a
                end = b
        return total

    def ws_end_bytes(self) -> int:
        """End of the working set (bytes from :data:`BASE_BYTES`)."""
        return (self.wsoff + self.ws) * PAGE


def avail_pages(memory_bytes: float) -> int:
    """Guest pages above :data:`BASE_BYTES` (what the guest may fill and write)."""
    return int(memory_bytes // PAGE) - BASE_BYTES // PAGE - TOP_RESERVE_PAGES
