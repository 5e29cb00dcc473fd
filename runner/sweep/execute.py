"""Executors of a sweep: in this process (``local``) or as Ray tasks (``ray``), and ``auto``.

``auto`` (the default) runs a sweep in-process when it is small enough that starting Ray would
cost more than it saves (:func:`choose_executor`: no address, no ``RAY_ADDRESS``, no Ray already
connected, and at most :data:`AUTO_LOCAL_MAX_POINTS` points), else on Ray. Both executors run
the same :func:`runner.sweep.task.run_batch` per batch and commit the same parts: the rows are
identical (tests/runner/sweep/test_executors.py compares them bit for bit).

Ray:

- No address and no ``RAY_ADDRESS``: an embedded local Ray is started and stopped here.
- ``address`` or ``RAY_ADDRESS`` (set by ``ray job submit``): join that cluster; only disconnect.
- Already connected (a notebook, a test session): use that connection and leave it open.

Batches are dispatched as tasks of one CPU each, at most ``2 × cluster CPUs`` in flight, so the
driver's memory does not grow with the sweep: each task writes its own part and returns a few
counters. A task whose worker or node dies is retried by Ray (``max_retries``); since a part is
committed atomically under a name derived from its batch, a retry can neither lose nor duplicate
rows.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

from runner.errors import OptionError, RayError, RunFailure
from runner.sweep.plan import Plan
from runner.storage.rundir import Layout
from runner.sweep.task import run_batch

#: Executors of ``migsim sweep --executor``.
EXECUTORS = ("auto", "local", "ray")
#: ``auto`` runs sweeps of at most this many points in-process. Measured on this project's 2-core
#: machine with bench/quickstart_wall.py (shared, load ~7): an embedded Ray costs 5-18 s to start
#: and stop, while a warm in-process sweep computes and writes ~500 k points/s (1 M points in
#: 3.8 s, 3 M in 6.1 s, against 20.9 s and 26.8 s on the embedded Ray). Ray's second core pays for
#: its start only when the local run would take more than about twice that start: ~5 M points.
#: More cores move the break-even down (assumed roughly in proportion); ``--executor ray`` forces it.
AUTO_LOCAL_MAX_POINTS = 5_000_000


def choose_executor(executor: str, n_points: int, address: str | None) -> str:
    """``local`` or ``ray`` for a sweep.

    Parameters
    ----------
    executor : str
        ``auto``, ``local`` or ``ray`` (as asked).
    n_points : int
        Points still to compute.
    address : str, optional
        A cluster address given with ``--address`` (``RAY_ADDRESS`` is read here).

    Raises
    ------
    OptionError
        For an unknown executor, or ``local`` together with ``--address``.
    """
    if executor not in EXECUTORS:
        raise OptionError(f"--executor: invalid value {executor!r}; allowed: "
                          f"{', '.join(EXECUTORS)}")
    if executor == "local" and address:
        raise OptionError(f"--executor local runs in this process and --address {address} joins "
                          f"a Ray cluster: use one (--executor auto or ray with --address)")
    if executor != "auto":
        return executor
    if address or os.environ.get("RAY_ADDRESS") or _ray_connected():
        return "ray"
    return "local" if n_points <= AUTO_LOCAL_MAX_POINTS else "ray"


def _ray_connected() -> bool:
    """True when this process already has a Ray connection (a notebook): use it. Never imports
    Ray just to ask."""
    import sys

    ray = sys.modules.get("ray")
    return bool(ray is not None and getattr(ray, "is_initialized", lambda: False)())


def run_local(plan: Plan, layout: Layout, batches: Iterable[int], fingerprint: str,
              model_version: str, on_result: Callable[[dict[str, Any]], None],
              on_tick: Callable[[], None] | None = None) -> None:
    """Run batches one after another in this process (no Ray); ``on_result`` as :func:`dispatch`.

    Raises
    ------
    RunFailure
        If a batch raises, I/O errors included (exit status 3 and the same line as a failed Ray
        task); the parts committed before it stay. ``KeyboardInterrupt`` passes through.
    """
    for b in batches:
        try:
            stats = run_batch(plan, str(layout.root), layout.n_points, layout.batch_size, b,
                              fingerprint, model_version)
        except RunFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - the same line a failed Ray task gives
            text = str(exc).strip()
            raise RunFailure(f"batch {b} failed: {type(exc).__name__}: "
                             f"{text.splitlines()[-1] if text else ''}") from None
        on_result(stats)
        if on_tick is not None:
            on_tick()


#: Environment every Ray process started by migsim gets unless the user set otherwise.
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
#: Object store of the embedded Ray (bytes): only the plan and small counters go through it.
EMBEDDED_OBJECT_STORE = 256 * 2**20
#: Ray retries of a task whose worker died.
MAX_RETRIES = 5


_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:]+)\]|(?P<host>[\w.\-]+)):(?P<port>\d{1,5})$")


def probe(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast when a ``host:port`` cluster address does not accept connections.

    Ray itself retries an unreachable GCS for minutes; a refused or silent port here becomes one
    clear error instead. Other forms (``auto``, ``ray://...``) are left to Ray.
    """
    m = _HOST_PORT.match(address.strip())
    if not m:
        return
    host = m.group("v6") or m.group("host")
    try:
        with socket.create_connection((host, int(m.group("port"))), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RayError(f"cannot connect to the Ray cluster at {address}: {reason} (is the head "
                       f"node running? start one with: ray start --head)") from None


def ray_env() -> None:
    """Set :data:`RAY_ENV` in this process's environment where unset."""
    for k, v in RAY_ENV.items():
        os.environ.setdefault(k, v)


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[str]:
    """Connect to Ray for the duration of a ``with`` block.

    Parameters
    ----------
    address : str, optional
        Cluster address (``host:port``, ``ray://host:port`` or ``auto``); default ``RAY_ADDRESS``.
    num_cpus : int, optional
        CPUs of an embedded Ray (default: all).

    Yields
    ------
    str
        ``"embedded"``, the address joined, or ``"connected"`` if Ray was already initialised.
    """
    ray_env()
    import ray

    if ray.is_initialized():
        yield "connected"
        return
    addr = address or os.environ.get("RAY_ADDRESS") or None
    common: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if addr:
        probe(addr)
    handlers = _signal_handlers()
    try:
        if addr:
            ray.init(address=addr, **common)
        else:
            # "local": a new instance of our own, even if another Ray runs on this machine
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False,
                     object_store_memory=EMBEDDED_OBJECT_STORE, **common)
    except Exception as exc:  # noqa: BLE001 - any start/connect failure is one line for the user
        where = f"the Ray cluster at {addr}" if addr else "an embedded Ray"
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RayError(f"cannot connect to {where}: {msg}") from None
    _restore_signal_handlers(handlers)
    try:
        yield addr or "embedded"
    finally:
        ray.shutdown()


def _signal_handlers() -> dict[int, Any]:
    """This process's SIGINT/SIGTERM handlers (main thread only; else empty)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signal_handlers(handlers: dict[int, Any]) -> None:
    """Put back the handlers ``ray.init`` replaced.

    ``ray.init`` installs its own SIGTERM handler in the driver (and the core worker's fault
    handler prints "*** SIGTERM received ... PC: @" with a stack dump): a SIGTERM the user sends
    must reach migsim's handler (resume hint, exit 130) instead.
    """
    for sig, h in handlers.items():
        if h is not None:
            try:
                signal.signal(sig, h)
            except (TypeError, ValueError):
                pass


def cluster_cpus() -> int:
    """CPUs of the connected cluster (at least 1)."""
    import ray
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def dispatch(plan: Plan, layout: Layout, batches: Iterable[int], fingerprint: str,
             model_version: str, on_result: Callable[[dict[str, Any]], None],
             on_tick: Callable[[], None] | None = None, max_in_flight: int | None = None,
             max_retries: int = MAX_RETRIES) -> None:
    """Run batches as Ray tasks; call ``on_result`` with each batch's counters as it finishes.

    Parameters
    ----------
    plan : Plan
        The sweep (put in the object store once).
    layout : Layout
        The run directory.
    batches : iterable of int
        Batch indices to compute.
    fingerprint, model_version : str
        Recorded in each part.
    on_result : callable
        Called in the driver with the dict returned by :func:`runner.sweep.task.run_batch`.
    on_tick : callable, optional
        Called about twice a second while waiting (progress redraw).
    max_in_flight : int, optional
        Tasks submitted but not finished (default ``2 × cluster CPUs``).
    max_retries : int
        Retries of a task whose worker or node died.

    Raises
    ------
    RayError
        If a batch fails for good (its retries exhausted, or an error in the runner itself): a
        :class:`~runner.errors.RunFailure`, exit status 3.
    """
    import ray

    task = ray.remote(run_batch).options(num_cpus=1, max_retries=max_retries,
                                         retry_exceptions=False, name="migsim-batch")
    plan_ref = ray.put(plan)
    cap = max_in_flight or max(2, 2 * cluster_cpus())

    def submit(b: int) -> Any:
        return task.remote(plan_ref, str(layout.root), layout.n_points, layout.batch_size, b,
                           fingerprint, model_version)

    run_bounded(submit, batches, lambda b, stats: on_result(stats), cap, on_tick=on_tick,
                max_retries=max_retries)


def run_bounded(submit: Callable[[int], Any], batches: Iterable[int],
                on_done: Callable[[int, Any], None], cap: int,
                on_tick: Callable[[], None] | None = None, max_retries: int = MAX_RETRIES) -> None:
    """Keep at most ``cap`` Ray tasks in flight until every batch is done.

    Parameters
    ----------
    submit : callable
        Starts the task of a batch; returns its object ref.
    batches : iterable of int
        Batch indices, submitted in this order.
    on_done : callable
        Called in the driver with the batch index and the task's result, as each finishes.
    cap : int
        Tasks submitted but not finished.
    on_tick : callable, optional
        Called about twice a second while waiting (progress redraw).
    max_retries : int
        The tasks' retries (for the message when a batch is lost).

    Raises
    ------
    RayError
        If a batch fails for good (the tasks in flight stop with the driver's Ray session).
    """
    import ray
    from ray import exceptions as rex

    todo = iter(batches)
    inflight: dict[Any, int] = {}
    # On an error or Ctrl-C the tasks in flight are not cancelled: Ray stops them when the driver
    # disconnects, and ray.cancel racing a task's reply trips a check in Ray's core worker ("Tried
    # to complete task that was not pending", ray-project/ray#54798) that aborts the driver.
    while True:
        while len(inflight) < cap:
            b = next(todo, None)
            if b is None:
                break
            inflight[submit(b)] = b
        if not inflight:
            break
        done, _ = ray.wait(list(inflight), num_returns=1, timeout=0.5)
        if on_tick is not None:
            on_tick()
        for ref in done:
            b = inflight.pop(ref)
            try:
                stats = ray.get(ref)
            except rex.RayTaskError as exc:
                cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                raise RayError(f"batch {b} failed: {type(cause).__name__}: "
                               f"{str(cause).strip().splitlines()[-1] if str(cause).strip() else ''}"
                               ) from None
            except rex.RayError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise RayError(f"batch {b} lost after {max_retries} retries: "
                               f"{type(exc).__name__}: {first}") from None
            on_done(b, stats)
