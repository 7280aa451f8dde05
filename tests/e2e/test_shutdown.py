"""SIGTERM / SIGINT (rrtcp-protocol(7) 4.9 rrtcp policy, checklist 28)."""

import signal
import time

import pytest

import harness
from harness import Client, T, kinds, pid_alive, wait_until


@pytest.mark.deadline(45)
def test_sigterm_with_open_connections(rr, events):
    srv = rr(pool={"num_workers": 2, "destroy_timeout": "5s"},
             env={"GREETING": "hi {pid}"})
    workers = srv.worker_pids()
    idle = [Client(srv.port) for _ in range(3)]
    for c in idle:
        assert c.line().startswith(b"hi ")
    busy = Client(srv.port)
    assert busy.line().startswith(b"hi ")
    busy.send(b"SLEEP 1\r\n")
    u_busy = harness.connected_uuid(events, busy.local_addr)
    events.wait(lambda evs: any(e.get("uuid") == u_busy and e["event"] == "DATA"
                                for e in evs), what="SLEEP dispatched")
    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    # the in-flight event finishes and is answered, then the socket closes
    assert busy.read_to_eof(T(10)) == b"slept\r\n"
    for c in idle:
        assert c.read_to_eof(T(10)) == b""
    assert srv.wait_exit(T(5 + 5)) == 0
    assert time.monotonic() - t0 < T(5 + 3)
    all_uuids = [u_busy] + [harness.connected_uuid(events, c.local_addr)
                            for c in idle]
    for u in all_uuids:
        assert kinds(events.of(u))[-1] == "CLOSE", events.of(u)
        assert kinds(events.of(u)).count("CLOSE") == 1
    for pid in srv.worker_pids():
        wait_until(lambda: not pid_alive(pid), T(3),
                   what="worker %d gone after shutdown" % pid)
    assert set(workers) <= set(srv.worker_pids())


def test_sigint_idle_server(rr):
    srv = rr(pool={"num_workers": 2})
    srv.signal(signal.SIGINT)
    assert srv.wait_exit(T(10)) == 0
    for pid in srv.worker_pids():
        wait_until(lambda: not pid_alive(pid), T(3),
                   what="worker %d gone after SIGINT" % pid)
