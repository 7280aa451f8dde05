"""Worker errors, crashes, stop requests, max_jobs, stdout garbage
(rrtcp-protocol(7) 3.4, 3.5, 3.9, 4.7 rrtcp policy; checklist 15, 17-19)."""

import re
import time

import pytest

import harness
from harness import Client, T, kinds, pid_alive, wait_until

LEVEL_BAD = re.compile(r"^(warn|error)$")


def data_events(events, uuid):
    return [e for e in events.of(uuid) if e["event"] == "DATA"]


def test_error_frame_closes_client_and_worker_keeps_serving(rr, events):
    srv = rr(pool={"num_workers": 1})
    [pid] = srv.worker_pids()
    c = Client(srv.port)
    mark = srv.mark()
    c.send(b"ERR\r\n")
    assert c.read_to_eof(T(10)) == b""
    u = harness.connected_uuid(events, c.local_addr)
    events.wait_close(u)
    time.sleep(T(0.3))
    assert kinds(events.of(u)) == ["CONNECTED", "DATA", "CLOSE"]
    srv.wait_log(start=mark, level="warn", conn=re.compile(r"."),
                 reason=re.compile(r"."))
    assert srv.find_lines(r"boom"), "the error text is not in the log"
    c2 = Client(srv.port)
    assert c2.ask("PID") == str(pid)        # the same worker, still alive
    assert srv.exited_pids() == []


def test_worker_exit_mid_request(rr, events):
    srv = rr(pool={"num_workers": 2})
    initial = set(srv.worker_pids())
    assert len(initial) == 2
    b = Client(srv.port)
    assert b.ask("ECHO b1") == "b1"
    a = Client(srv.port)
    a.send(b"EXIT\r\n")
    assert a.read_to_eof(T(10)) == b""
    ua = harness.connected_uuid(events, a.local_addr)
    dead = data_events(events, ua)[0]["pid"]
    assert dead in initial
    srv.wait_log(msg=re.compile(r"worker exited"), worker=str(dead))
    new = wait_until(lambda: [p for p in srv.worker_pids() if p not in initial],
                     T(10), what="a replacement `worker started`")
    assert new[0] != dead
    wait_until(lambda: not pid_alive(dead), T(5), what="dead worker gone")
    # the other, already open connection is unaffected
    for i in range(5):
        assert b.ask("ECHO b%d" % (i + 2)) == "b%d" % (i + 2)
    events.wait_close(ua)
    time.sleep(T(0.3))
    assert kinds(events.of(ua)) == ["CONNECTED", "DATA", "CLOSE"]


def test_worker_stop_request_reruns_event(rr, events):
    srv = rr(pool={"num_workers": 2})
    initial = srv.worker_pids()
    c = Client(srv.port)
    reply = c.ask("STOP once", T(15))
    m = re.fullmatch(r"rerun (\d+)", reply)
    assert m, reply
    u = harness.connected_uuid(events, c.local_addr)
    runs = data_events(events, u)
    assert [e["body"] for e in runs] == [b"STOP once\r\n"] * 2
    first, second = runs[0]["pid"], runs[1]["pid"]
    assert first != second and second == int(m.group(1))
    srv.wait_log(msg=re.compile(r"worker exited"), worker=str(first))
    wait_until(lambda: not pid_alive(first), T(10), what="stopped worker gone")
    wait_until(lambda: len(srv.worker_pids()) >= len(initial) + 1, T(10),
               what="a replacement worker")
    assert c.ask("ECHO after-stop") == "after-stop"


@pytest.mark.deadline(60)
def test_max_jobs_one_every_event_new_worker(rr, events):
    srv = rr(pool={"num_workers": 2, "max_jobs": 1})
    c = Client(srv.port, timeout=T(15))
    pids = [int(c.ask("PID")) for _ in range(20)]
    assert len(set(pids)) == 20, pids
    c.close()
    u = harness.connected_uuid(events, c.local_addr)
    evs = events.wait_close(u, T(15))
    assert kinds(evs) == ["CONNECTED"] + ["DATA"] * 20 + ["CLOSE"]
    ev_pids = [e["pid"] for e in evs]
    assert len(set(ev_pids)) == len(ev_pids), ev_pids


def test_stdout_garbage_kills_and_replaces_worker(rr, events):
    srv = rr(pool={"num_workers": 2})
    initial = set(srv.worker_pids())
    b = Client(srv.port)
    assert b.ask("ECHO b1") == "b1"
    a = Client(srv.port)
    a.send(b"GARBAGE\r\n")
    assert a.read_to_eof(T(15)) == b""
    ua = harness.connected_uuid(events, a.local_addr)
    bad = data_events(events, ua)[0]["pid"]
    srv.wait_log(worker=str(bad), level=LEVEL_BAD)
    line = [l for l in srv.lines if "worker=%d" % bad in l
            and re.search(r"level=(warn|error)", l)]
    assert any(re.search(r"(?i)crc|invalid|frame|stdout|garbage|protocol|header", l)
               for l in line), line
    srv.wait_log(msg=re.compile(r"worker exited"), worker=str(bad))
    wait_until(lambda: not pid_alive(bad), T(10), what="garbage worker gone")
    wait_until(lambda: [p for p in srv.worker_pids() if p not in initial],
               T(10), what="a replacement worker")
    for i in range(5):
        assert b.ask("ECHO ok%d" % i) == "ok%d" % i
    c = Client(srv.port)
    assert c.ask("ECHO fresh") == "fresh"
    events.wait_close(ua)
    time.sleep(T(0.3))
    assert kinds(events.of(ua)) == ["CONNECTED", "DATA", "CLOSE"]
