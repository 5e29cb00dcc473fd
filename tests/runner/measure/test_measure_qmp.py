"""The QMP client against a fake QMP server on a unix socket."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from runner.measure.errors import QMPError
from runner.measure.qmp import QMP

GREETING = {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 22}}, "capabilities": []}}


class FakeQMP:
    """Answers each command from ``script`` (name -> list of messages to send, in order)."""

    def __init__(self, path: Path, script: dict, greet: bool = True, close_after: str | None = None):
        self.path, self.script, self.greet, self.close_after = path, script, greet, close_after
        self.received: list[dict] = []
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(str(path))
        self.srv.listen(1)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        conn, _ = self.srv.accept()
        with conn:
            if self.greet:
                conn.sendall(json.dumps(GREETING).encode() + b"\r\n")
            buf = b""
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    msg = json.loads(line)
                    self.received.append(msg)
                    name = msg["execute"]
                    if name == self.close_after:
                        return
                    for out in self.script.get(name, [{"return": {}}]):
                        conn.sendall(json.dumps(out).encode() + b"\r\n")


def event(name: str, sec: int, usec: int, **data) -> dict:
    return {"event": name, "data": data, "timestamp": {"seconds": sec, "microseconds": usec}}


@pytest.fixture
def sock(tmp_path):
    return tmp_path / "q.sock"


def test_greeting_capabilities_and_commands_with_arguments(sock):
    fake = FakeQMP(sock, {"query-migrate": [{"return": {"status": "active", "total-time": 12}}]})
    q = QMP(str(sock), "source").connect(timeout=5)
    assert q.greeting["QMP"]["version"]["qemu"]["micro"] == 22
    assert q.command("query-migrate") == {"status": "active", "total-time": 12}
    q.command("migrate-set-parameters", max_bandwidth=32000000, downtime_limit=300)
    q.close()
    fake.thread.join(2)
    assert [m["execute"] for m in fake.received] == ["qmp_capabilities", "query-migrate",
                                                     "migrate-set-parameters"]
    assert fake.received[2]["arguments"] == {"max-bandwidth": 32000000, "downtime-limit": 300}


def test_events_between_answers_are_kept_with_qemu_timestamps(sock):
    FakeQMP(sock, {"migrate": [event("MIGRATION", 100, 250000, status="setup"),
                               event("STOP", 100, 750000), {"return": {}}]})
    q = QMP(str(sock)).connect(timeout=5)
    assert q.command("migrate", uri="tcp:127.0.0.1:1") == {}
    assert [e.name for e in q.events] == ["MIGRATION", "STOP"]
    assert q.first("MIGRATION", status="setup").qemu_time == pytest.approx(100.25)
    assert q.first("STOP").qemu_time - q.first("MIGRATION").qemu_time == pytest.approx(0.5)
    assert q.first("MIGRATION", status="completed") is None


def test_poll_events_reads_without_blocking(sock):
    FakeQMP(sock, {"x": [{"return": {}}, event("RESUME", 5, 0)]})
    q = QMP(str(sock)).connect(timeout=5)
    q.command("x")
    deadline = time.monotonic() + 2
    while not q.events and time.monotonic() < deadline:
        q.poll_events()
    assert [e.name for e in q.events] == ["RESUME"]
    t = time.monotonic()
    assert q.poll_events() == [] and time.monotonic() - t < 0.5


def test_error_answer_raises_with_qemus_description(sock):
    FakeQMP(sock, {"migrate": [{"error": {"class": "GenericError", "desc": "no such port"}}]})
    q = QMP(str(sock), "source").connect(timeout=5)
    with pytest.raises(QMPError, match="source QEMU: migrate failed: no such port"):
        q.command("migrate", uri="tcp:x")


def test_no_answer_times_out(sock):
    FakeQMP(sock, {"query-migrate": []})
    q = QMP(str(sock)).connect(timeout=5)
    t = time.monotonic()
    with pytest.raises(QMPError, match="no QMP answer in time"):
        q.command("query-migrate", timeout=0.3)
    assert time.monotonic() - t < 2


def test_closed_connection_says_qemu_exited(sock):
    FakeQMP(sock, {}, close_after="query-migrate")
    q = QMP(str(sock), "destination").connect(timeout=5)
    with pytest.raises(QMPError, match="destination QEMU closed its QMP connection"):
        q.command("query-migrate")


def test_missing_socket_fails_within_the_timeout(tmp_path):
    t = time.monotonic()
    with pytest.raises(QMPError, match="did not open within 0.3 s"):
        QMP(str(tmp_path / "none.sock")).connect(timeout=0.3)
    assert time.monotonic() - t < 2


def test_not_a_qmp_greeting(sock):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(sock))
    srv.listen(1)

    def serve():
        c, _ = srv.accept()
        c.sendall(b'{"hello": 1}\n')
        time.sleep(1)
        c.close()
    threading.Thread(target=serve, daemon=True).start()
    with pytest.raises(QMPError, match="not a QMP greeting"):
        QMP(str(sock)).connect(timeout=2)
