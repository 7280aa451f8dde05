"""Pool limits and the supervisor: max_jobs, ttl, idle_ttl, exec_ttl,
max_worker_memory, debug, max_queue_size, dynamic_allocator (rrtcp-protocol(7)
3.10, 3.11; quirks Q4, Q7, Q9; checklist 19-21)."""

import itertools
import re
import time

import pytest

import harness
from harness import Client, T, kinds, pid_alive, wait_until
import rpc_client as rpc

OPS = harness.php_command("ops_worker.php")


def start(rr, pool, supervisor=None, rpc_port=None, **kw):
    p = dict(pool)
    if supervisor is not None:
        p["supervisor"] = supervisor
    if rpc_port is not None:
        kw["rpc_listen"] = rpc.rpc_addr(rpc_port)
    return rr(command=OPS, pool=p, **kw)


def tcp_events(events):
    return [e for e in events.all() if e["event"] in
            ("CONNECTED", "DATA", "CLOSE")]


def retired(srv, pid, state, timeout):
    return srv.wait_log(timeout, msg=re.compile(r"^worker (retired|killed)$"),
                        worker=str(pid), state=state)


@pytest.mark.deadline(40)
def test_max_jobs_replaces_the_worker_after_n_events(rr, events):
    # max_jobs 3: RR's jitter is floor(3 * p / 100) with p <= 14, i.e. 0,
    # so every worker handles exactly 3 events (CONNECTED counts).
    srv = start(rr, {"num_workers": 1, "max_jobs": 3})
    [first] = srv.worker_pids()
    c = Client(srv.port, timeout=T(15))
    replies = [int(c.ask("PID")) for _ in range(10)]
    assert replies[:2] == [first, first], replies
    assert len(set(replies)) >= 3, replies
    c.close()
    evs = tcp_events(events)
    runs = [(pid, len(list(g))) for pid, g in
            itertools.groupby(e["pid"] for e in evs)]
    assert len({p for p, _ in runs}) == len(runs), \
        "a retired worker served again: %r" % runs
    assert [n for _, n in runs[:-1]] == [3] * (len(runs) - 1), runs
    for pid, _ in runs[:-1]:
        retired(srv, pid, "maxJobsReached", T(5))
        wait_until(lambda: not pid_alive(pid), T(12),
                   what="max_jobs worker %d exits" % pid)


@pytest.mark.deadline(40)
def test_ttl_replaces_workers_while_a_client_keeps_talking(rr):
    srv = start(rr, {"num_workers": 2},
                supervisor={"watch_tick": "1s", "ttl": "2s"})
    initial = set(srv.worker_pids())
    assert len(initial) == 2
    c = Client(srv.port, timeout=T(10))
    seen = []
    deadline = time.monotonic() + T(8)
    i = 0
    while time.monotonic() < deadline:
        i += 1
        assert c.ask("ECHO t%d" % i) == "t%d" % i
        seen.append(int(c.ask("PID")))
        if set(seen) - initial and all(
                srv.find(msg="worker retired", worker=str(p),
                         state="ttlReached") for p in initial):
            break
        time.sleep(0.2)
    for p in initial:
        retired(srv, p, "ttlReached", T(1))
        wait_until(lambda: not pid_alive(p), T(12),
                   what="ttl worker %d exits" % p)
    assert set(seen) - initial, "the client never reached a new worker: %r" \
        % seen
    assert c.ask("ECHO still-here") == "still-here"


@pytest.mark.deadline(30)
def test_idle_ttl_retires_never_used_workers(rr):
    # Q7: RR exempts workers that never ran an exec; rrtcp counts from spawn.
    srv = start(rr, {"num_workers": 2},
                supervisor={"watch_tick": "1s", "idle_ttl": "2s"})
    initial = set(srv.worker_pids())
    for p in initial:
        retired(srv, p, "idleTTLReached", T(6))
    wait_until(lambda: len(set(srv.worker_pids()) - initial) >= 2, T(5),
               what="two replacement workers")
    for p in initial:
        wait_until(lambda: not pid_alive(p), T(12),
                   what="idle worker %d exits" % p)
    assert Client(srv.port).ask("ECHO ok") == "ok"


@pytest.mark.deadline(30)
def test_exec_ttl_kills_a_slow_worker(rr, events):
    srv = start(rr, {"num_workers": 2},
                supervisor={"watch_tick": "1s", "exec_ttl": "1s"})
    initial = set(srv.worker_pids())
    c = Client(srv.port)
    assert c.ask("ECHO warm") == "warm"
    t0 = time.monotonic()
    c.send(b"SLEEP %.1f\r\n" % T(6))
    assert c.read_to_eof(T(4)) == b"", "exec_ttl: EOF without data"
    took = time.monotonic() - t0
    assert took < T(3.5), "EOF after %.1fs, exec_ttl is 1s" % took
    u = harness.connected_uuid(events, c.local_addr)
    [slow] = [e["pid"] for e in events.of(u) if e["event"] == "DATA"
              and e["body"].startswith(b"SLEEP")]
    rec = srv.wait_log(msg="worker killed", worker=str(slow))
    assert rec["state"] == "execTTLReached", rec        # Q9: not "undefined"
    # SIGKILL, not the 10 s stop sequence: the process goes at once
    wait_until(lambda: not pid_alive(slow), T(2), what="slow worker killed")
    wait_until(lambda: set(srv.worker_pids()) - initial, T(5),
               what="a replacement worker")
    events.wait_close(u, T(10))
    time.sleep(T(0.5))
    assert kinds(events.of(u)) == ["CONNECTED", "DATA", "DATA", "CLOSE"]
    assert Client(srv.port).ask("ECHO after") == "after"


@pytest.mark.deadline(30)
def test_max_worker_memory_retires_a_worker_after_its_exchange(rr):
    srv = start(rr, {"num_workers": 1},
                supervisor={"watch_tick": "1s", "max_worker_memory": 40})
    c = Client(srv.port)
    p1 = int(c.ask("PID"))
    assert c.ask("ALLOC 60", T(10)) == "allocated %d" % p1
    retired(srv, p1, "maxMemoryReached", T(5))
    wait_until(lambda: not pid_alive(p1), T(12), what="big worker exits")
    p2 = int(c.ask("PID"))
    assert p2 != p1
    # a fresh worker is under the limit and is left alone
    time.sleep(T(1.5))
    assert int(c.ask("PID")) == p2


@pytest.mark.deadline(30)
def test_debug_spawns_a_fresh_worker_per_event(rr, events):
    srv = start(rr, {"num_workers": 1, "debug": True})
    c = Client(srv.port, timeout=T(15))
    pids = [int(c.ask("PID")) for _ in range(4)]
    assert len(set(pids)) == 4, pids
    c.close()
    u = harness.connected_uuid(events, c.local_addr)
    evs = events.wait_close(u, T(15))
    assert kinds(evs) == ["CONNECTED"] + ["DATA"] * 4 + ["CLOSE"]
    ev_pids = [e["pid"] for e in evs]
    assert len(set(ev_pids)) == len(ev_pids), ev_pids


@pytest.mark.deadline(30)
def test_max_queue_size_fails_an_event_at_once(rr, events):
    srv = start(rr, {"num_workers": 1, "max_queue_size": 1,
                     "allocate_timeout": "10s"})
    a = Client(srv.port, timeout=T(15))
    assert a.ask("ECHO a") == "a"
    a.send(b"SLEEP %.1f\r\n" % T(3))
    ua = harness.connected_uuid(events, a.local_addr)
    events.wait(lambda evs: any(e.get("uuid") == ua and e["event"] == "DATA"
                                and e["body"].startswith(b"SLEEP")
                                for e in evs), what="the SLEEP event")
    t0 = time.monotonic()
    b = Client(srv.port)
    assert b.read_to_eof(T(1.5)) == b""
    took = time.monotonic() - t0
    assert took < T(1.5), "the queue-full event took %.1fs" % took
    srv.wait_log(msg=re.compile(r"."), reason=re.compile(r"max_queue_size"))
    assert a.line(T(10)) == b"slept\r\n"
    # the in-progress count came back down: events run again
    c = Client(srv.port)
    assert c.ask("ECHO c") == "c"
    assert a.ask("ECHO a2") == "a2"


@pytest.mark.deadline(30)
def test_max_queue_size_frees_the_slot_before_the_client_sees_the_answer(rr):
    # Two connections in lockstep: each sends only after the other one got
    # its answer, so at most one event is ever in progress and max_queue_size
    # 1 must never refuse one.  (RR leaves the queue in pool.Exec, before the
    # TCP plugin writes the answer to the client.)
    srv = start(rr, {"num_workers": 1, "max_queue_size": 1})
    a = Client(srv.port)
    assert a.ask("ECHO a") == "a"      # a's CONNECTED is over
    b = Client(srv.port)
    assert b.ask("ECHO b") == "b"
    deadline = time.monotonic() + T(3)
    rounds = 0
    while time.monotonic() < deadline:
        for name, c in (("a", a), ("b", b)):
            try:
                reply = c.ask("ECHO %s%d" % (name, rounds), T(5))
            except AssertionError as e:
                raise AssertionError(
                    "round %d, client %s: %s\n%s" % (
                        rounds, name, e, "\n".join(
                            srv.find_lines(r"max_queue_size"))))
            assert reply == "%s%d" % (name, rounds)
        rounds += 1
    assert not srv.find_lines(r"max_queue_size")


@pytest.mark.deadline(40)
def test_dynamic_allocator_adds_workers_when_starved(rr, events):
    port = harness.free_port()
    srv = start(rr, {"num_workers": 1, "allocate_timeout": "1s",
                     "dynamic_allocator": {"max_workers": 2,
                                           "spawn_rate": 2,
                                           "idle_timeout": "30s"}},
                rpc_port=port)
    [first] = srv.worker_pids()
    assert rpc.worker_pids(port) == [first]
    a = Client(srv.port, timeout=T(15))
    assert a.ask("ECHO a") == "a"
    a.send(b"SLEEP %.1f\r\n" % T(6))
    ua = harness.connected_uuid(events, a.local_addr)
    events.wait(lambda evs: any(e.get("uuid") == ua and e["event"] == "DATA"
                                and e["body"].startswith(b"SLEEP")
                                for e in evs), what="the SLEEP event")
    b = Client(srv.port)
    assert b.read_to_eof(T(4)) == b"", "starved: closed after allocate_timeout"
    rec = srv.wait_log(T(3), msg="dynamic allocator adds workers")
    assert rec.get("added") == "2", rec
    pids = wait_until(
        lambda: (lambda p: p if len(p) == 3 else None)(rpc.live_pids(port)),
        T(5), interval=0.1, what="informer.Workers count 3")
    assert first in pids
    # the new workers serve while the first one still sleeps
    c = Client(srv.port)
    assert int(c.ask("PID")) in set(pids) - {first}
    assert a.line(T(10)) == b"slept\r\n"
