"""Shared test fixtures: Ray environment, a real two-node Ray cluster, and running the CLI.

Every Ray process started by a test (in-process cluster, ``ray start``, the ``migsim`` CLI) gets
``RAY_AUTH_MODE=disabled`` and ``RAY_USAGE_STATS_ENABLED=0``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

REPO = Path(__file__).resolve().parents[1]
#: Per-node memory of test clusters: small, the tests move little data.
OBJECT_STORE_BYTES = 80 * 2**20


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for CLI subprocesses: Ray settings, no inherited RAY_ADDRESS."""
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    env.update(RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def migsim_command() -> list[str]:
    """How to start the ``migsim`` console script."""
    exe = shutil.which("migsim")
    if exe:
        return [exe]
    return [sys.executable, "-c", "from runner.cli import main; main()"]


@pytest.fixture(scope="session")
def ray_cluster():
    """A real Ray cluster of two raylets on this machine (1 CPU each), connected in-process.

    Yields the ``ray.cluster_utils.Cluster``; its ``address`` lets CLI subprocesses join it with
    ``--address``. Shut down at the end of the session.
    """
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": OBJECT_STORE_BYTES, "include_dashboard": False})
    cluster.add_node(num_cpus=1, object_store_memory=OBJECT_STORE_BYTES)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="session")
def run_cli() -> Callable[..., subprocess.CompletedProcess]:
    """Run ``migsim ARGS`` as a subprocess; returns the CompletedProcess (text output)."""

    def run(args: Sequence[str], cwd: str | os.PathLike[str] | None = None, timeout: float = 180,
            **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(migsim_command() + [str(a) for a in args], cwd=cwd, env=cli_env(**env),
                              capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def start_cli() -> Callable[..., subprocess.Popen]:
    """Start ``migsim ARGS`` in the background; returns the Popen (text pipes)."""

    def start(args: Sequence[str], cwd: str | os.PathLike[str] | None = None,
              **env: str) -> subprocess.Popen:
        return subprocess.Popen(migsim_command() + [str(a) for a in args], cwd=cwd,
                                env=cli_env(**env), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    return start


def poll(predicate: Callable[[], Any], timeout: float, period: float = 0.01) -> Any:
    """Call ``predicate`` until it returns something truthy (returned) or ``timeout`` s pass."""
    from runner.measure.qemu import wait_until
    return wait_until(predicate, timeout, period)


@pytest.fixture(scope="session")
def wait_for() -> Callable[..., Any]:
    """:func:`poll` as a fixture: ``wait_for(predicate, timeout_s)``."""
    return poll
