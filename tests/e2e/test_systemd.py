"""systemd Type=notify (NOTIFY_SOCKET, WATCHDOG_USEC) and tcp.drain_delay.

A Python AF_UNIX datagram socket bound in the test's tmp dir stands in for
the service manager; rrtcp gets its path in NOTIFY_SOCKET.
"""

import datetime
import re
import signal
import socket
import threading
import time

import pytest

import harness
from harness import Client, T


class Manager:
    """Receives the notifications; each is (time.monotonic(), time.time(),
    text)."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.msgs = []
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self):
        self.sock.settimeout(0.1)
        while not self.closed:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            with self.cond:
                self.msgs.append((time.monotonic(), time.time(),
                                  data.decode()))
                self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.msgs)

    def texts(self, start=0):
        with self.cond:
            return [m[2] for m in self.msgs[start:]]

    def wait(self, line, start=0, timeout=None):
        """The first message from start on that has line as one of its
        lines; returns (index, (mono, wall, text))."""
        timeout = T(10) if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.msgs)):
                    if line in self.msgs[i][2].split("\n"):
                        return i, self.msgs[i]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %r within %.1fs; got %r"
                                         % (line, timeout, self.texts()))
                self.cond.wait(min(left, 0.2))

    def close(self):
        self.closed = True
        self.thread.join(T(2))
        self.sock.close()


@pytest.fixture
def manager(tmp_path):
    m = Manager(tmp_path / "notify")
    yield m
    m.close()


def fields(text):
    return dict(l.split("=", 1) for l in text.split("\n") if "=" in l)


STATUS = re.compile(r"^[A-Z][a-z ,]+: connections=(\d+) workers=(\d+) "
                    r"idle=(\d+)$")


def log_wall(rec):
    return datetime.datetime.strptime(
        rec["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def test_ready_once_serving_then_stopping(rr, manager):
    srv = rr(env={"NOTIFY_SOCKET": manager.path}, ready=False)
    i, (_, wall, text) = manager.wait("READY=1", timeout=T(20))
    # Ready means ready: a client is served right away.
    c = Client(srv.port)
    assert c.ask("ECHO hello") == "hello"
    ready = srv.wait_log(msg="ready", timeout=T(2))
    assert log_wall(ready) <= wall + 0.005, (ready, wall)
    assert not any("READY=1" in t.split("\n") for t in manager.texts()[:i])
    f = fields(text)
    m = STATUS.match(f["STATUS"])
    assert m and f["STATUS"].startswith("Serving:"), text
    assert int(m.group(2)) == 2
    mark = manager.mark()
    srv.signal(signal.SIGTERM)
    _, (_, _, text) = manager.wait("STOPPING=1", start=mark)
    assert STATUS.match(fields(text)["STATUS"]), text
    assert srv.wait_exit(T(10)) == 0
    assert not any("READY=1" in t.split("\n")
                   for t in manager.texts(mark))


@pytest.mark.deadline(40)
def test_status_every_few_seconds_counts_connections(rr, manager):
    srv = rr(env={"NOTIFY_SOCKET": manager.path})
    manager.wait("READY=1")
    clients = [Client(srv.port) for _ in range(3)]
    for c in clients:
        assert c.ask("ECHO x") == "x"
    mark = manager.mark()

    def three():
        for t in manager.texts(mark):
            m = STATUS.match(fields(t).get("STATUS", ""))
            if m and int(m.group(1)) == 3:
                return True
        return False
    harness.wait_until(three, T(8), what="STATUS with connections=3")


def test_sighup_reloading_then_ready(rr, manager):
    srv = rr(env={"NOTIFY_SOCKET": manager.path})
    manager.wait("READY=1")
    mark = manager.mark()
    before = time.monotonic_ns() // 1000
    srv.signal(signal.SIGHUP)
    i, (_, _, text) = manager.wait("RELOADING=1", start=mark)
    after = time.monotonic_ns() // 1000
    usec = int(fields(text)["MONOTONIC_USEC"])
    assert before <= usec <= after, (before, usec, after)
    manager.wait("READY=1", start=i + 1)
    srv.wait_log(msg="configuration reloaded")

    # A refused reload is over too: READY=1 again, old config serving.
    srv.config.write_text("version: '3'\ntcp: [\n")
    mark = manager.mark()
    logmark = srv.mark()
    srv.signal(signal.SIGHUP)
    i, _ = manager.wait("RELOADING=1", start=mark)
    manager.wait("READY=1", start=i + 1)
    srv.wait_log(start=logmark, msg=re.compile("reload failed"))
    assert Client(srv.port).ask("ECHO still") == "still"


def test_watchdog_pings_every_half_interval(rr, manager):
    srv = rr(env={"NOTIFY_SOCKET": manager.path, "WATCHDOG_USEC": "200000"})
    manager.wait("READY=1")
    mark = manager.mark()
    time.sleep(1.0)
    with manager.cond:
        pings = [m[0] for m in manager.msgs[mark:] if m[2] == "WATCHDOG=1"]
    # 100 ms apart: about 10 in a second, not a burst and not a stall
    assert int(7 / harness.MULT) <= len(pings) <= 12, pings
    gaps = sorted(b - a for a, b in zip(pings, pings[1:]))
    median = gaps[len(gaps) // 2]
    assert 0.08 <= median <= 0.13 * harness.MULT, gaps
    srv.wait_log(msg="watchdog", usec="200000", ping_ms="100")


def test_watchdog_for_another_pid_is_not_ours(rr, manager):
    rr(env={"NOTIFY_SOCKET": manager.path, "WATCHDOG_USEC": "200000",
            "WATCHDOG_PID": "1"})
    manager.wait("READY=1")
    time.sleep(0.5)
    assert "WATCHDOG=1" not in manager.texts()


def test_workers_do_not_inherit_the_variables(rr, manager):
    srv = rr(env={"NOTIFY_SOCKET": manager.path, "WATCHDOG_USEC": "5000000",
                  "RRTCP_TEST_MARK": "passed-on"})
    c = Client(srv.port)
    # the control: the rest of the environment reaches the workers
    assert c.ask("ENV RRTCP_TEST_MARK") == "passed-on"
    assert c.ask("ENV NOTIFY_SOCKET") == "<unset>"
    assert c.ask("ENV WATCHDOG_USEC") == "<unset>"
    assert c.ask("ENV WATCHDOG_PID") == "<unset>"


def test_drain_delay_keeps_serving_new_clients(rr, manager):
    srv = rr(env={"NOTIFY_SOCKET": manager.path},
             tcp_extra={"drain_delay": "1s"})
    manager.wait("READY=1")
    old = Client(srv.port)
    assert old.ask("ECHO old") == "old"
    mark = manager.mark()
    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    _, (_, _, text) = manager.wait("STOPPING=1", start=mark)
    assert fields(text)["STATUS"].startswith("Draining"), text
    time.sleep(max(0.0, t0 + 0.5 - time.monotonic()))
    late = Client(srv.port)
    assert late.ask("ECHO late") == "late"
    assert old.ask("ECHO old again") == "old again"
    assert srv.wait_exit(T(10)) == 0
    took = time.monotonic() - t0
    assert 1.0 <= took < T(1.0 + 2.0), took
    stopping = srv.wait_log(msg="stopping", drain_delay_ms="1000")
    draining = srv.wait_log(msg="draining")
    assert log_wall(draining) - log_wall(stopping) >= 0.99
    assert late.read_to_eof(T(2)) == b""


def test_second_signal_during_drain_delay_stops_at_once(rr):
    srv = rr(tcp_extra={"drain_delay": "5s"})
    srv.signal(signal.SIGTERM)
    srv.wait_log(msg="stopping")
    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    assert srv.wait_exit(T(3)) == 1
    assert time.monotonic() - t0 < T(1.0)
    srv.wait_log(msg="second signal, exiting now")
