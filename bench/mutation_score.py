"""Mutation score: do the tests catch small, realistic bugs in ``models/`` and ``runner/``?

A curated catalogue (:data:`MUTANTS`) of bugs that could plausibly be written — an inequality off by
one, a constant 10 % off, a term dropped, a flag not passed on — is applied ONE AT A TIME to a
scratch copy of the repository (never to the real tree), and the fast-tier tests that cover the
mutated code are run there. Each mutant is printed with the first test that failed on it
("caught by ...") or ``survived``; the last lines are ``caught N of M`` and the run time.

Usage::

    python bench/mutation_score.py                 # the whole catalogue, 2 mutants at a time
    python bench/mutation_score.py --only sdps-cap-0.90 stalls-5
    python bench/mutation_score.py --check         # only: does every snippet still match?
    python bench/mutation_score.py --jit on        # compile the kernels even for models/ mutants

A snippet that no longer matches the source exactly once is reported as STALE (the code changes in
parallel; update the catalogue entry) and counts as neither caught nor survived.

Cost: any edit to ``models/*.py`` changes the model hash, so numba would recompile every kernel
(about 60 s per process). ``--jit auto`` (the default) runs ``models/`` mutants with
``NUMBA_DISABLE_JIT=1`` (the selected tests then run as plain Python: ~15 s for all of
``tests/models``) and ``runner/`` mutants with the compiled kernels, cached once per scratch copy;
a ``models/`` mutant that survives without the JIT is run again with the compiled kernels (its
own compile, ~60 s) before it is reported as a survivor.
Tests that already fail on the unmutated scratch copy in the same JIT mode (pure-Python arithmetic
overflows where the compiled kernel saturates) are deselected for every mutant of that selection:
the baseline is run first and its failures printed.

Scratch copies live in ``$TMPDIR/migsim-mutation/w<k>`` (one per worker, reused between runs so the
compiled-kernel cache survives); they receive every tracked and untracked-but-not-ignored file of
the repository, with its modification time.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    """One deliberate bug.

    Attributes
    ----------
    id : str
        Short name.
    file : str
        Path inside the repository.
    old, new : str
        The exact snippet of the source (it must occur exactly once) and its replacement.
    mechanism : str
        The mechanism or front door it breaks.
    note : str
        What the bug is; for a mutant shown to be equivalent, why.
    tests : tuple of str
        Test paths to run (default: :data:`SELECT` of the file).
    jit : bool or None
        Force the compiled kernels on (True) or off (False); None: ``--jit``.
    equivalent : bool
        True when the catalogue shows it cannot change any observable result (it is then still run,
        and reported, but not counted).
    """

    id: str
    file: str
    old: str
    new: str
    mechanism: str
    note: str
    tests: tuple[str, ...] = ()
    equivalent: bool = False
    jit: bool | None = None


#: Tests run for a mutant of each source file (fast tier only: the -m filter of pyproject applies).
#: (the fastest, most discriminating files first: each mutant run stops at its first failure)
_MODEL_TESTS = ("tests/models/test_independent_truth.py", "tests/models/test_precopy.py",
                "tests/models/test_sequential.py",
                "tests/models/test_published.py", "tests/models/test_migration.py",
                "tests/models/test_workload.py", "tests/models/test_storage.py",
                "tests/runner/measure/test_validation.py",
                "tests/runner/measure/test_measure_validate.py", "tests/models/test_properties.py")
_SCENARIO_TESTS = ("tests/models/test_independent_truth.py", "tests/models/test_admission.py",
                   "tests/models/test_sharing.py", "tests/models/test_scenario.py")
SELECT: dict[str, tuple[str, ...]] = {
    "models/sequential.py": ("tests/models/test_sequential.py",),
    "models/admission.py": _SCENARIO_TESTS,
    "models/sharing.py": _SCENARIO_TESTS,
    "models/placement.py": _SCENARIO_TESTS + ("tests/runner/scenario/test_scenario_spec.py",),
    "models/scenario.py": _SCENARIO_TESTS,
    "models/fields.py": ("tests/models/test_fields.py", "tests/models/test_units.py",
                         "tests/runner/cli/test_cli_migrate_flags.py",
                         "tests/runner/cli/test_cli_migrate.py"),
    "models/units.py": ("tests/models/test_units.py", "tests/models/test_fields.py",
                        "tests/runner/cli/test_cli_migrate_flags.py"),
    "runner/cli/migrate.py": ("tests/runner/cli/test_cli_migrate_flags.py",
                              "tests/runner/cli/test_cli_migrate.py",
                              "tests/runner/cli/test_front_doors.py"),
    "runner/cli/validate.py": ("tests/runner/measure/test_validate_conditions.py",
                               "tests/runner/cli/test_front_doors.py",
                               "tests/runner/measure/test_measure_validate.py"),
    "runner/sweep/values.py": ("tests/runner/sweep/test_spec.py", "tests/runner/cli/test_bad_specs.py",
                               "tests/runner/sweep/test_spec_fuzz.py"),
    "runner/storage/schema.py": ("tests/runner/storage", "tests/test_contract.py"),
    "runner/measure/validate.py": ("tests/runner/measure/test_validate_conditions.py",
                                   "tests/runner/measure/test_validation.py",
                                   "tests/runner/measure/test_measure_validate.py",
                                   "tests/runner/cli/test_front_doors.py"),
}

PRE = "models/precopy.py"
POL = "models/policy.py"
MIG = "models/migration.py"

MUTANTS: list[Mutant] = [
    # ----------------------------------------------------------------- stop rules (precopy)
    Mutant("threshold-no-min-pages", PRE,
           "return max(pps * C[i, C_LIMIT_S], C[i, C_MIN_PAGES])", "return pps * C[i, C_LIMIT_S]",
           "stop rules", "Xen's '< 50 dirty pages' rule dropped from the threshold"),
    Mutant("max-rounds-off-by-one", PRE,
           "if seg >= C[i, C_MAX_ROUNDS]:", "if seg > C[i, C_MAX_ROUNDS]:",
           "stop rules", "one pass more than the round cap (Hyper-V 10 passes -> 11)"),
    Mutant("stalls-5", PRE, "STALLS_TO_GIVE_UP = 3 ", "STALLS_TO_GIVE_UP = 5 ",
           "stop rules", "five stalls before giving up instead of three (issue 15)"),
    Mutant("growing-rule-ge", PRE, "seg >= 2.0 and sent > last_sent",
           "seg >= 2.0 and sent >= last_sent", "stop rules",
           "Xen's growing-round rule also fires when a round sent as much as the last"),
    Mutant("rate-rule-no-increment", PRE,
           "dirty_Bps + C[i, C_RATE_INCREMENT_BPS] > C[i, C_RATE_MAX_BPS]",
           "dirty_Bps > C[i, C_RATE_MAX_BPS]", "stop rules",
           "Clark's rule forgets the +50 Mbit/s of the next round's rate"),
    Mutant("timeout-counts-whole-pass", PRE,
           "used = (C[i, C_TIMEOUT_S] - S[i, S_T]) / duration", "used = 1.0",
           "stop rules", "a pass cancelled by the timeout counts all its bytes"),
    Mutant("xen-traffic-4x", POL, "max_traffic_factor=(3.0,", "max_traffic_factor=(4.0,",
           "stop rules", "Clark's 3 x memory traffic cap read as 4 x"),
    Mutant("xen-5-iterations-6", POL, 'max_rounds=(5.0, "simple precopy policy',
           'max_rounds=(6.0, "simple precopy policy', "stop rules",
           "Xen >= 4.6: six iterations instead of five"),
    Mutant("downtime-limit-unit", MIG, "downtime_limit_s = E[e, E_DOWNTIME_LIMIT_MS] / 1e3",
           "downtime_limit_s = E[e, E_DOWNTIME_LIMIT_MS] / 1e2", "stop rules",
           "ms -> s conversion of the downtime limit off by 10"),
    Mutant("goal-ignores-device-state", MIG,
           "- E[e, E_DEVICE_STATE] / sw, 0.0)", ", 0.0)", "stop rules",
           "vSphere's 500 ms goal no longer reserves time for the device state"),
    Mutant("more-dirtying-cheaper-xen-vsphere", MIG,
           "C[c, C_DIRTY_PPS] = X[X_DIRTY_RATE, i] / ps if wws_b > 0.0 else 0.0",
           "C[c, C_DIRTY_PPS] = ((1e15 / max(X[X_DIRTY_RATE, i], 1e6)) if (POL[p, P_ADAPTIVE_RATE] "
           "== 1.0 or POL[p, P_REMEDY] == SDPS) else X[X_DIRTY_RATE, i]) / ps if wws_b > 0.0 "
           "else 0.0", "stop rules",
           "Xen (Clark) and vSphere dirty LESS the more the guest dirties: more dirtying is cheaper "
           "in every output. Run against the property that was tautological (issue 15) alone, "
           "compiled (hypothesis draws reach the closed-form passes)",
           tests=("tests/models/test_properties.py::test_more_dirtying_never_faster_or_cheaper",),
           jit=True),
    # ----------------------------------------------------------------- overlap / dirtying
    Mutant("overlap-phases-1", PRE, "Rw, new, W, 8)", "Rw, new, W, 1)", "overlap",
           "the sequential second-sync overlap averaged over 1 sweep position, not 8 (issue 15)"),
    Mutant("overlap-removed", PRE, "pending_w = min(Rw + new - ov, W)",
           "pending_w = min(Rw + new, W)", "overlap",
           "the sequential second-sync overlap rule removed (issue 15)"),
    Mutant("union-no-intersection", "models/workload.py",
           "out = remaining + new - remaining * (new * (1.0 / wws_pages))",
           "out = remaining + new", "overlap",
           "random writes: pending counts pages both still pending and re-dirtied twice"),
    Mutant("adjacent-arcs-never", PRE,
           "1.0 if (seq != 0.0 and seg0 >= 3.0) else 0.0", "0.0", "overlap",
           "sequential sweep treated as independent of the pending arc from the third sync on"),
    Mutant("sequential-unbounded", "models/workload.py",
           "return min(rate_pps * t_s, wws_pages)", "return rate_pps * t_s", "dirtying",
           "a sequential sweep dirties more distinct pages than its working set"),
    Mutant("skip-sequential-slope", PRE, "k = 1.0 + 0.5 * share * r", "k = 1.0 + share * r",
           "dirtying", "Xen's skip of re-dirtied pages (sequential, x <= 1) counts each skip twice"),
    # ----------------------------------------------------------------- rate limiting / link
    Mutant("limiter-smooth", PRE,
           "return (k1 - k0) * win + ((x0 + nbytes - k1 * budget) - (x0 - k0 * budget)) / burst",
           "return nbytes / rate", "rate limiting",
           "QEMU's 100 ms window limiter replaced by a smooth rate"),
    Mutant("qemu-window-50ms", POL, 'rate_window_s=(0.1, "BUFFER_DELAY',
           'rate_window_s=(0.05, "BUFFER_DELAY', "rate limiting",
           "QEMU's rate-limiter window 50 ms instead of 100 ms"),
    Mutant("cap-ignored", "models/link.py", "pre = min(wire, max_bandwidth_Bps)", "pre = wire",
           "rate limiting", "max-bandwidth never applied"),
    Mutant("cap-not-lifted", "models/link.py",
           "return wire, pre, wire if cap_lifted else pre, 1.0, math.inf",
           "return wire, pre, pre, 1.0, math.inf", "rate limiting",
           "QEMU's stop-and-copy stays under max-bandwidth (uncompressed transports)"),
    Mutant("single-stream-all-nics", "models/link.py",
           "(min(nics, max_nics) if multichannel else 1.0)", "min(nics, max_nics)",
           "rate limiting", "a single TCP stream spread over every NIC"),
    Mutant("nic-limit-dropped", "models/link.py",
           "(min(nics, max_nics) if multichannel else 1.0)", "(nics if multichannel else 1.0)",
           "rate limiting",
           "EQUIVALENT: the NIC limit is also a refusal (REJ_NICS in models/migration.py "
           "_prepare_row rejects nics > max_nics for multichannel transports before the link is "
           "computed), so min(nics, max_nics) == nics on every point that reaches stream_rates",
           equivalent=True),
    Mutant("rtt-ms-as-s", "models/link.py", "tcp_window_bytes / rtt_ms * 1e3",
           "tcp_window_bytes / rtt_ms", "rate limiting", "window / RTT with the RTT in s, not ms"),
    Mutant("efficiency-ignored", "models/link.py", "link_bps / 8.0 * efficiency", "link_bps / 8.0",
           "rate limiting", "protocol efficiency never applied"),
    Mutant("compression-ignored", "models/link.py",
           "return wire, pre, wire if cap_lifted else pre, 1.0 / compressibility, compress_Bps",
           "return wire, pre, wire if cap_lifted else pre, 1.0, compress_Bps", "rate limiting",
           "Hyper-V compression does not shrink wire bytes"),
    Mutant("hyperv-stream-cap-400", POL, '"tcp": Transport(stream_cap_Bps=339e6),',
           '"tcp": Transport(stream_cap_Bps=400e6),', "rate limiting",
           "Hyper-V's measured 339 MB/s single-stream peak mistyped"),
    # ----------------------------------------------------------------- remedies
    Mutant("sdps-cap-0.90", PRE, "theta = max(theta, min(max(need, 0.0), 0.99))",
           "theta = max(theta, min(max(need, 0.0), 0.90))", "remedies (SDPS)",
           "the SDPS throttle capped at 90 % instead of 99 % (issue 15)"),
    Mutant("sdps-stall-gt", PRE, "remedy == SDPS and theta >= 0.99:",
           "remedy == SDPS and theta > 0.99:", "remedies (SDPS)",
           "a fully throttled SDPS migration that still stalls is never forced"),
    Mutant("sdps-off-means-none", MIG,
           "if remedy == SDPS and X[X_SDPS, i] == 0.0:\n        remedy = FORCE",
           "if remedy == SDPS and X[X_SDPS, i] == 0.0:\n        remedy = NONE", "remedies (SDPS)",
           "--sdps false fails the migration instead of forcing the switch-over"),
    Mutant("ac-every-period", PRE, "if cnt >= 2.0:", "if cnt >= 1.0:", "remedies (auto-converge)",
           "auto-converge throttles after one dirty period instead of two"),
    Mutant("ac-ratio-ignored", PRE, "ac_dirty * C[i, C_PAGE_BYTES] > C[i, C_AC_RATIO] * ac_sent",
           "ac_dirty * C[i, C_PAGE_BYTES] > ac_sent", "remedies (auto-converge)",
           "throttle-trigger-threshold 50 % read as 100 %"),
    Mutant("ac-initial-30", POL, 'ac_initial_pct=(20.0, "cpu-throttle-initial")',
           'ac_initial_pct=(30.0, "cpu-throttle-initial")', "remedies (auto-converge)",
           "cpu-throttle-initial 30 % instead of 20 %"),
    Mutant("ac-increment-20", POL, 'ac_increment_pct=(10.0, "cpu-throttle-increment")',
           'ac_increment_pct=(20.0, "cpu-throttle-increment")', "remedies (auto-converge)",
           "cpu-throttle-increment 20 % instead of 10 %"),
    Mutant("ac-max-90", POL, 'ac_max_pct=(99.0, "max-cpu-throttle")',
           'ac_max_pct=(90.0, "max-cpu-throttle")', "remedies (auto-converge)",
           "max-cpu-throttle 90 % instead of 99 %"),
    # ----------------------------------------------------------------- profile constants (issue 15)
    Mutant("qemu-scan-minus-10pct", POL, 'scan_Bps=(26e9, "tests/data/qemu-train.csv',
           'scan_Bps=(23.4e9, "tests/data/qemu-train.csv', "profile constants",
           "QEMU's zero-page scan rate -10 % (issue 15)"),
    # ----------------------------------------------------- sequential writer of known phase
    Mutant("chase-sender-restarts", PRE,
           "n, p, rest, more = _send(st, en, n, p, rest, k * per, W)\n            sent += more\n"
           "            t +=",
           "n, p, rest, more = _send(st, en, n, 0.0, rest, k * per, W)\n            sent += more\n"
           "            t +=",
           "sequential chase",
           "the sender restarts at the bottom of the working set at every check (QEMU keeps "
           "last_page: it never restarts)"),
    Mutant("chase-phase-ignored", PRE, "writer = C[i, C_PHASE] * W",
           "writer = 0.0 * W", "sequential chase", "the writer's phase is not used"),
    Mutant("round0-no-midpass-check", PRE, "        th = _threshold(C, i, pps) - (C[i, C_PAGES_ZERO] if first else 0.0)\n",
           "        th = -1.0 if first else _threshold(C, i, pps)\n", "stop rules",
           "round 0 runs to its end without QEMU's threshold check (the model before this "
           "session; measured bulk-p0003 stopped at 0.36 s, not 0.50 s)"),
    Mutant("round0-zero-pages-ignored", PRE,
           "        th = _threshold(C, i, pps) - (C[i, C_PAGES_ZERO] if first else 0.0)\n",
           "        th = _threshold(C, i, pps)\n", "stop rules",
           "round 0's check forgets the zero pages still set in QEMU's bitmap"),
    Mutant("send-ahead-ignored", PRE,
           "    dur = _wire_time(C, i, S[i, S_MEM_BYTES], pl[P_WIRE] - pl[P_AHEAD], pl[P_RATE]) + pl[P_EXTRA]\n",
           "    dur = _wire_time(C, i, S[i, S_MEM_BYTES], pl[P_WIRE], pl[P_RATE]) + pl[P_EXTRA]\n",
           "send buffer", "round 0 waits for the wire to carry what the sender put in its socket "
           "buffer (the model before this session: shaped links 8-48 % off)"),
    Mutant("send-ahead-every-pass", PRE, "    if S[i, S_SEG] != 0.0 or _rate_limited(C, i, rate):",
           "    if _rate_limited(C, i, rate):", "send buffer",
           "every pass gains the send buffer again, though it stays full after round 0"),
    Mutant("send-ahead-when-rate-limited", PRE,
           "    if S[i, S_SEG] != 0.0 or _rate_limited(C, i, rate):",
           "    if S[i, S_SEG] != 0.0:", "send buffer",
           "a sender waiting for its rate-limiter windows also gains the send buffer"),
    Mutant("send-ahead-whole-buffer", PRE, "SEND_AHEAD_SHARE = 5.0 / 6.0", "SEND_AHEAD_SHARE = 1.0",
           "send buffer", "the lead is the whole buffer (Linux wakes the writer with a third free)"),
    Mutant("arc-split-merged-back", "models/sequential.py",
           "        n += 1\n        k += 1\n", "        n += 1\n        n = _compact(st, en, n, W)\n",
           "sequential chase", "the arc the sender is inside is split and merged back, so the "
           "sender jumps back to the arc's start (a bug of the first draft)"),
    Mutant("qemu-device-plus-10pct", POL, 'device_state_bytes=(0.18e6, "measured',
           'device_state_bytes=(0.198e6, "measured', "profile constants",
           "QEMU's device state +10 % (issue 15). Known survivor of this run's selection: the "
           "measurement that catches it (tests/models/test_policy.py, real QEMU, 5 %) is in the "
           "heavy tier, which the mutation run leaves out; 18 kB more is 9 us of downtime on the "
           "2 GB/s loopback, under the 20 ms jitter of the measured runs"),
    Mutant("xen-increment-plus-10pct", POL, 'rate_increment_bps=(50e6,', 'rate_increment_bps=(55e6,',
           "profile constants", "Xen's rate increment +10 % (issue 15)"),
    Mutant("qemu-header-16", POL, 'page_header_bytes=(8.0, "tests/data/qemu-train.csv',
           'page_header_bytes=(16.0, "tests/data/qemu-train.csv', "profile constants",
           "QEMU's per-page header 16 bytes instead of 8"),
    # ----------------------------------------------------------------- switch-over
    Mutant("switchover-no-device", "models/switchover.py",
           "send_s = max(final_bytes / rate_Bps, final_pages / mem_cap_pps) + device_bytes / rate_Bps",
           "send_s = max(final_bytes / rate_Bps, final_pages / mem_cap_pps)", "switch-over",
           "the device state is not part of the downtime"),
    Mutant("switchover-no-resume", "models/switchover.py",
           "return stop_s + send_s + resume_s + extra_s,", "return stop_s + send_s + extra_s,",
           "switch-over", "resume time left out of the downtime"),
    Mutant("max-switchover-ignores-storage", "models/switchover.py",
           "send_s + extra_s > max_switchover_s", "send_s > max_switchover_s", "switch-over",
           "vSphere's 100 s maximum ignores a final storage copy made while stopped"),
    Mutant("vsphere-max-switchover-200", POL, 'max_switchover_s=(100.0, "maxSwitchoverSeconds")',
           'max_switchover_s=(200.0, "maxSwitchoverSeconds")', "switch-over",
           "maxSwitchoverSeconds 200 instead of 100"),
    Mutant("connections-always-kept", MIG,
           "B[B_CONNECTIONS_PRESERVED, o] = done and (E[e, E_STORAGE_ONLY] != 0.0\n"
           "                                              or E[e, E_SAME_SUBNET] != 0.0)",
           "B[B_CONNECTIONS_PRESERVED, o] = done", "switch-over",
           "connections survive a move to another L2 subnet"),
    # ----------------------------------------------------------------- storage
    Mutant("mirror-share-not-subtracted", MIG, "C[c, C_RATE_BPS] = pre - mirror_w",
           "C[c, C_RATE_BPS] = pre", "storage",
           "the mirror's share no longer subtracted from the pre-copy rate (issue 15)"),
    Mutant("mirror-linear-time", "models/storage.py",
           "T = -(disk_bytes / w) * math.log1p(-(w / copy_Bps))", "T = disk_bytes / (copy_Bps - w)",
           "storage", "bulk copy with mirroring: copy rate minus write rate (ignores that only "
                      "copied regions are mirrored)"),
    Mutant("mirror-share-unbounded", "models/storage.py",
           "w = min(write_Bps, max_share * copy_Bps)", "w = min(write_Bps, copy_Bps)", "storage",
           "the synchronous mirror may take the whole copy path"),
    Mutant("iterative-limit-bytes", "models/storage.py", "if pending / copy_Bps <= limit_s:",
           "if pending <= limit_s:", "storage",
           "iterative disk pre-copy compares bytes with seconds"),
    Mutant("shared-nothing-copy-uncapped", MIG,
           "copy_rate = min(X[X_STORAGE_RATE, i], pre) if shared_nothing else X[X_STORAGE_RATE, i]",
           "copy_rate = X[X_STORAGE_RATE, i]", "storage",
           "a shared-nothing disk copy is not bounded by the migration network"),
    Mutant("disk-throttle-inverted", MIG, "100.0 * (1.0 - w / X[X_DISK_WRITE_RATE, i])",
           "100.0 * (w / X[X_DISK_WRITE_RATE, i])", "storage",
           "disk write throttle reported as the share kept, not the share held back"),
    # ----------------------------------------------------------------- admission
    Mutant("admission-10g-strict", "models/admission.py",
           "limits.network_cost_10g if h.link_bps >= 10e9 else limits.network_cost_1g",
           "limits.network_cost_10g if h.link_bps > 10e9 else limits.network_cost_1g",
           "admission", "a 10 GbE host gets the 1 GbE network limit (4 instead of 8)"),
    Mutant("admission-ignores-own-cost", "models/admission.py",
           "short = [k for k, c in costs if used[k] + c > cap[k] + EPS]",
           "short = [k for k, c in costs if used[k] > cap[k] + EPS]", "admission",
           "a migration starts if the resource is not yet over its limit, whatever it adds"),
    Mutant("admission-overtaking", "models/admission.py",
           "if held and not held.isdisjoint(keys[t]):", "if False:", "admission",
           "later requests overtake a waiting one on the same resource (FIFO broken)"),
    Mutant("svmotion-host-cost-1", "models/admission.py",
           "charge((HOST, source), limits.cost_svmotion_host)",
           "charge((HOST, source), limits.cost_vmotion_host)", "admission",
           "Storage vMotion charged like vMotion on its host"),
    # ----------------------------------------------------------------- sharing
    Mutant("sharing-equal-split", "models/sharing.py",
           "cand = (remaining[link] - before) / left", "cand = remaining[link] / count[link]",
           "sharing", "links split equally, ignoring what capped streams leave (not max-min)"),
    Mutant("sharing-caps-ignored", "models/sharing.py",
           "capped = cap[a] <= lam * (1.0 + TOLERANCE)", "capped = cap[a] < 0.0", "sharing",
           "per-stream caps ignored when settling streams"),
    Mutant("scenario-dst-not-reserved", "models/scenario.py",
           "                        cap[lk] -= r * self.line[i]\n",
           "                        cap[lk] -= 0.0 * r * self.line[i]\n", "sharing",
           "a switching-over stream's reservation not taken from the links on its path"),
    # ----------------------------------------------------------------- placement / scenario
    Mutant("least-loaded-by-count", "models/placement.py",
           "key=lambda d: (load[d], count[d], host_index[d])",
           "key=lambda d: (count[d], load[d], host_index[d])", "placement",
           "least-loaded placement by VM count instead of memory"),
    Mutant("rolling-excludes-done-hosts", "models/placement.py",
           "excluded = set(evac[k:]) if plan.rolling else set(evac)", "excluded = set(evac)",
           "placement", "a rolling evacuation never refills hosts already evacuated"),
    Mutant("round-robin-stuck", "models/placement.py",
           "                            rr += k + 1\n", "                            rr += k\n",
           "placement", "round-robin sends every VM to one host"),
    Mutant("stage-gap-ignored", "models/scenario.py",
           "self._open_stage(s, t_end + self.stages[s].gap_s)", "self._open_stage(s, t_end)",
           "placement", "a rolling stage starts without its gap"),
    # ----------------------------------------------------------------- front doors
    Mutant("cli-drops-memory", "runner/cli/migrate.py", "cols = parse_inputs(kwargs)",
           'cols = parse_inputs({k: v for k, v in kwargs.items() if k != "memory"})',
           "CLI flag plumbing", "--memory silently dropped (issue 15)"),
    Mutant("cli-drops-timeout", "runner/cli/migrate.py", "cols = parse_inputs(kwargs)",
           'cols = parse_inputs({k: v for k, v in kwargs.items() if k != "timeout"})',
           "CLI flag plumbing", "--timeout silently dropped (issue 15)"),
    Mutant("cli-rejected-no-reason", "runner/cli/migrate.py",
           'lines.append(f"verdict           REJECTED: {row[\'reason\']}")',
           'lines.append("verdict           REJECTED")', "CLI flag plumbing",
           "the text output of a rejected migration does not say why"),
    Mutant("cli-rounds-json-dropped", "runner/cli/migrate.py", "if show_rounds:\n            doc[",
           "if False:\n            doc[", "CLI flag plumbing", "--json --rounds prints no passes"),
    Mutant("pages-rate-ignores-page-size", MIG,
           'page = parse(by_name["page_size"], given["page_size"]) if "page_size" in given else 4096.0',
           "page = 4096.0", "CLI flag plumbing",
           "'7000pages/s' with --page-size 2MiB counted in 4 KiB pages",
           tests=("tests/runner/cli/test_front_doors.py", "tests/models/test_fields.py",
                  "tests/models/test_units.py", "tests/runner/cli/test_cli_migrate_flags.py")),
    Mutant("duration-unit-ms", "models/fields.py",
           "x = units.parse_duration(value, self.name, col_s, unit_s=col_s)",
           "x = units.parse_duration(value, self.name, col_s)",
           "spec parsing", "'2s' for a millisecond input read as 2 ms"),
    Mutant("gib-decimal", "models/units.py", '"Gi": 2.0**30', '"Gi": 1e9', "spec parsing",
           "GiB read as 10^9 bytes"),
    Mutant("arange-stop-excluded", "runner/sweep/values.py",
           "count = math.floor((stop - start) / step + 1e-9) + 1",
           "count = math.floor((stop - start) / step + 1e-9)", "spec parsing",
           "{start, stop, step} leaves out the stop"),
    Mutant("logspace-as-linspace", "runner/sweep/values.py",
           "vals = np.geomspace(lo, hi, num) if num > 1 else np.array([lo])",
           "vals = np.linspace(lo, hi, num) if num > 1 else np.array([lo])", "spec parsing",
           "logspace axes spaced linearly"),
    Mutant("nan-as-zero", MIG, "if math.isnan(v):\n            return None",
           "if math.isnan(v):\n            return 0.0", "null handling",
           "values that do not exist reported as 0, not null",
           tests=("tests/runner/cli/test_front_doors.py", "tests/runner/cli/test_cli_migrate.py",
                  "tests/models/test_migration.py")),
    Mutant("outputs-always-apply", MIG, "if status not in OUTPUT_APPLIES[k]:\n            row[k] = None",
           "if False:\n            row[k] = None", "null handling",
           "a rejected or failed row reports outputs that do not apply to it",
           tests=("tests/runner/cli/test_front_doors.py", "tests/runner/cli/test_cli_migrate.py",
                  "tests/models/test_migration.py")),
    Mutant("arrow-null-mask-dropped", "runner/storage/schema.py",
           "            if null is not None:\n                mask = mask | null\n", "",
           "Parquet schema", "outputs that do not apply are written as values, not null. "
           "EQUIVALENT today: the mutated branch handles float columns only, and every float "
           "output that does not apply is already NaN when it leaves models.migration (pinned by "
           "tests/models/test_migration.py::test_outputs_that_do_not_apply_are_nan_never_zero), "
           "so the NaN mask already nulls it; integer and bool columns take the other branch, "
           "which keeps the null mask (checked by tests/runner/storage/test_nulls_in_parquet.py)",
           equivalent=True),
    Mutant("arrow-count-truncated", "runner/storage/schema.py",
           "~np.isfinite(arr) | (arr != np.floor(arr))", "~np.isfinite(arr)", "Parquet schema",
           "a count that is not whole is truncated to an integer instead of null"),
    Mutant("validate-no-cancel-timeout", "runner/measure/validate.py",
           '"timeout_s": np.full(n, float(conditions["cancel_after_s"])),',
           '"timeout_s": np.full(n, np.inf),', "validation",
           "validate predicts measured runs with no timeout: runs QEMU never finished are "
           "compared with a model that runs for ever"),
    Mutant("validate-ignores-loopback-condition", "runner/measure/validate.py",
           'float(conditions["loopback_Bps"]) * 8.0', "2e9 * 8.0", "validation",
           "validate uses a hidden loopback constant instead of the data set's condition"),
]


# --------------------------------------------------------------------------------- machinery
def repo_files() -> list[str]:
    """Tracked and untracked-but-not-ignored files of the repository (relative paths)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=REPO, capture_output=True, check=True).stdout.decode()
    return [p for p in out.split("\0") if p and (REPO / p).is_file()]


def sync_scratch(dest: Path, files: list[str]) -> None:
    """Make ``dest`` a copy of the repository's files (modification times kept; caches kept)."""
    dest.mkdir(parents=True, exist_ok=True)
    wanted = set(files)
    for sub in ("models", "runner", "tests", "bench"):
        root = dest / sub
        if root.is_dir():
            for p in root.rglob("*.py"):
                if "__pycache__" not in p.parts and str(p.relative_to(dest)) not in wanted:
                    p.unlink()
    for rel in files:
        src, dst = REPO / rel, dest / rel
        try:
            st = dst.stat()
            if st.st_size == src.stat().st_size and st.st_mtime == src.stat().st_mtime:
                continue
        except FileNotFoundError:
            dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def check(m: Mutant) -> str:
    """``""`` when the mutant applies, else why it is stale."""
    path = REPO / m.file
    if not path.is_file():
        return f"{m.file} does not exist"
    n = path.read_text().count(m.old)
    return "" if n == 1 else f"snippet found {n} times in {m.file}"


def use_jit(m: Mutant, mode: str) -> bool:
    if m.jit is not None:
        return m.jit
    return mode == "on" or (mode == "auto" and not m.file.startswith("models/"))


def selection(m: Mutant) -> tuple[str, ...]:
    return m.tests or SELECT.get(m.file) or _MODEL_TESTS


def run_pytest(scratch: Path, tests: tuple[str, ...], jit: bool, deselect: list[str],
               first_only: bool, timeout: float) -> tuple[str, list[str], float]:
    """Run tests in ``scratch``: (outcome, failing test ids, seconds); outcome is passed, failed,
    error (collection or usage) or timeout."""
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    env.update(PYTHONPATH=str(scratch), RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0",
               PYTHONDONTWRITEBYTECODE="1")
    if jit:
        env.pop("NUMBA_DISABLE_JIT", None)
    else:
        env["NUMBA_DISABLE_JIT"] = "1"
    tests = tuple(t for t in tests if (scratch / t.split("::")[0]).exists())
    cmd = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:warnings", *tests]
    if first_only:
        cmd.append("-x")
    for d in deselect:
        cmd += ["--deselect", d]
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, cwd=scratch, env=env, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", [], time.monotonic() - t0
    dt = time.monotonic() - t0
    failed = [ln.split()[1] for ln in r.stdout.splitlines()
              if ln.startswith(("FAILED ", "ERROR ")) and len(ln.split()) > 1]
    if r.returncode == 0:
        return "passed", [], dt
    if r.returncode == 1:
        return "failed", failed, dt
    tail = (r.stdout + r.stderr).strip().splitlines()[-1:] or ["?"]
    return "error", failed or [f"pytest exit {r.returncode}: {tail[0][:80]}"], dt


@dataclass
class Outcome:
    mutant: Mutant
    verdict: str            # caught | survived | stale
    by: str = ""
    seconds: float = 0.0
    jit: bool = False


@dataclass
class Worker:
    scratch: Path
    baselines: dict[tuple[tuple[str, ...], bool], list[str]] = field(default_factory=dict)


def run_mutant(m: Mutant, w: Worker, mode: str, timeout: float) -> Outcome:
    jit = use_jit(m, mode)
    tests = selection(m)
    key = (tests, jit)
    if key not in w.baselines:
        outcome, failed, dt = run_pytest(w.scratch, tests, jit, [], False, timeout * 3)
        if outcome in ("error", "timeout"):
            raise SystemExit(f"baseline of {tests} (jit {jit}) in {w.scratch}: {outcome} {failed}")
        w.baselines[key] = failed
        if failed:
            print(f"  [baseline {'jit' if jit else 'no-jit'} {' '.join(tests)}: {len(failed)} tests "
                  f"fail unmutated, deselected: {', '.join(failed)}]", flush=True)
    target = w.scratch / m.file
    text = target.read_text()
    if text.count(m.old) != 1:
        return Outcome(m, "stale", f"snippet found {text.count(m.old)} times in the scratch copy")
    try:
        target.write_text(text.replace(m.old, m.new))
        outcome, failed, dt = run_pytest(w.scratch, tests, jit, w.baselines[key], True, timeout)
    finally:
        shutil.copy2(REPO / m.file, target)     # the original, with its modification time
    if outcome == "passed":
        return Outcome(m, "survived", "", dt, jit)
    by = failed[0] if failed else outcome
    if outcome == "timeout":
        by = f"timeout after {timeout:.0f} s"
    return Outcome(m, "caught", by, dt, jit)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", default=None, help="mutant ids to run")
    ap.add_argument("--check", action="store_true", help="only check that every snippet matches")
    ap.add_argument("--list", action="store_true", help="list the catalogue")
    ap.add_argument("--jobs", type=int, default=2, help="mutants in parallel (at most 2)")
    ap.add_argument("--jit", choices=("auto", "on", "off"), default="auto")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant")
    ap.add_argument("--no-confirm", action="store_true",
                    help="do not re-run the survivors of a no-JIT run with the compiled kernels")
    ap.add_argument("--state", type=Path, default=None,
                    help="JSON file the outcomes are written to as they come (default: "
                         "<scratch>/outcomes.json)")
    ap.add_argument("--reuse", action="store_true",
                    help="take the outcome of a mutant CAUGHT in --state by the same snippet and "
                         "replacement instead of running it again (survivors always run again)")
    ap.add_argument("--scratch", type=Path,
                    default=Path(tempfile.gettempdir()) / "migsim-mutation")
    args = ap.parse_args(argv)
    cat = MUTANTS
    ids = [m.id for m in MUTANTS]
    assert len(set(ids)) == len(ids), "duplicate mutant ids"
    if args.only:
        unknown = set(args.only) - set(ids)
        if unknown:
            ap.error(f"unknown mutant ids: {', '.join(sorted(unknown))}")
        cat = [m for m in MUTANTS if m.id in args.only]
    if args.list:
        for m in cat:
            print(f"{m.id:<34} {m.mechanism:<26} {m.file}: {m.note}")
        return 0
    stale = {m.id: why for m in cat if (why := check(m))}
    for mid, why in stale.items():
        print(f"STALE {mid}: {why}  <-- update the catalogue", file=sys.stderr)
    if args.check:
        print(f"{len(cat) - len(stale)} of {len(cat)} mutants apply; {len(stale)} stale")
        return 1 if stale else 0

    import hashlib
    import json

    def key(m: Mutant) -> str:
        return hashlib.sha256("\0".join((m.file, m.old, m.new, *sorted(set(selection(m))))).encode()).hexdigest()[:16]

    state_path = args.state or args.scratch / "outcomes.json"
    state: dict[str, dict] = {}
    if state_path.is_file():
        state = json.loads(state_path.read_text())
    lock = __import__("threading").Lock()

    def remember(o: Outcome) -> None:
        with lock:
            state[o.mutant.id] = {"key": key(o.mutant), "verdict": o.verdict, "by": o.by,
                                  "seconds": round(o.seconds, 1), "jit": o.jit}
            state_path.parent.mkdir(parents=True, exist_ok=True)
            state_path.write_text(json.dumps(state, indent=1))

    t0 = time.monotonic()
    files = repo_files()
    jobs = max(1, min(args.jobs, 2))
    workers = [Worker(args.scratch / f"w{k}") for k in range(jobs)]
    for w in workers:
        sync_scratch(w.scratch, files)
    todo = [m for m in cat if m.id not in stale]
    reused: dict[str, Outcome] = {}
    if args.reuse:
        for m in todo:
            st = state.get(m.id)
            if st and st["key"] == key(m) and st["verdict"] == "caught":
                reused[m.id] = Outcome(m, "caught", st["by"] + " [earlier run]", st["seconds"],
                                       st["jit"])
        todo = [m for m in todo if m.id not in reused]
    # per worker a queue, models/ (no-JIT) and runner/ (JIT) mutants spread over both
    queues: list[list[Mutant]] = [todo[k::jobs] for k in range(jobs)]
    results: dict[str, Outcome] = {mid: Outcome(next(m for m in cat if m.id == mid), "stale", why)
                                   for mid, why in stale.items()}
    results.update(reused)

    def drain(k: int) -> None:
        for m in queues[k]:
            o = run_mutant(m, workers[k], args.jit, args.timeout)
            results[m.id] = o
            remember(o)
            print(f"  {m.id:<34} {o.verdict:<8} {o.by} ({o.seconds:.0f} s, "
                  f"{'jit' if o.jit else 'no-jit'})", flush=True)

    print(f"running {len(todo)} mutants, {jobs} at a time, scratch copies in {args.scratch}"
          + (f"; {len(reused)} caught in an earlier run with the same tests reused" if reused else ""),
          flush=True)
    with cf.ThreadPoolExecutor(jobs) as ex:
        for f in [ex.submit(drain, k) for k in range(jobs)]:
            f.result()
    # A no-JIT survivor may only have escaped a test deselected in that mode: confirm it compiled.
    again = [m for m in todo if results[m.id].verdict == "survived" and not results[m.id].jit
             and not m.equivalent and not args.no_confirm]
    if again:
        print(f"confirming {len(again)} no-JIT survivors with the compiled kernels", flush=True)
        queues[:] = [again[k::jobs] for k in range(jobs)]
        mode, args.jit = args.jit, "on"
        with cf.ThreadPoolExecutor(jobs) as ex:
            for f in [ex.submit(drain, k) for k in range(jobs)]:
                f.result()
        args.jit = mode
    wall = time.monotonic() - t0

    print()
    print(f"{'mutant':<34} {'mechanism / front door':<26} {'verdict':<9} first failing test")
    counted = caught = 0
    for m in cat:
        o = results[m.id]
        tag = o.verdict.upper() if o.verdict == "stale" else o.verdict
        if m.equivalent:
            tag += " (equivalent)"
        print(f"{m.id:<34} {m.mechanism:<26} {tag:<9} {o.by}")
        if o.verdict != "stale" and not m.equivalent:
            counted += 1
            caught += o.verdict == "caught"
    survivors = [m.id for m in cat if results[m.id].verdict == "survived" and not m.equivalent]
    print()
    if stale:
        print(f"STALE: {len(stale)} mutants no longer match the source: {', '.join(stale)}")
    n_eq = sum(m.equivalent for m in cat)
    print(f"survived: {', '.join(survivors) or 'none'}; equivalent (not counted): {n_eq}")
    print(f"caught {caught} of {counted}")
    print(f"run time {wall:.0f} s ({wall / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
