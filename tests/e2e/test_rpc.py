"""RPC: tcp.Close, informer, resetter over JSON (PHP goridge client) and gob
(the rr CLI's codec), calls made by a worker from inside an event, and the
RPC listener (rrtcp-protocol(7) 4.8, 5; quirks Q17, Q25; checklist 24-27)."""

import json
import re
import time
import uuid as uuidlib

import pytest

import harness
from harness import Client, T, kinds, pid_alive
import rpc_client as rpc
from rpc_client import RawRpc

STATE_KEYS = ["pid", "status", "numExecs", "created", "memoryUsage",
              "CPUPercent", "command", "statusStr"]
STATUS_NUM = {"ready": 1, "working": 2}
SERVICE_EXC = "Spiral\\Goridge\\RPC\\Exception\\ServiceException"


def start(rr, pool=None, **kw):
    port = harness.free_port()
    p = {"num_workers": 2}
    p.update(pool or {})
    srv = rr(command=harness.php_command("ops_worker.php"), pool=p,
             rpc_listen=rpc.rpc_addr(port), **kw)
    srv.rpc_port = port
    srv.rpc_addr = rpc.rpc_addr(port)
    srv.wait_log(msg="rpc listening")
    return srv


def closes(events, u):
    return [e for e in events.of(u) if e["event"] == "CLOSE"]


def tcp_events(events, u):
    return [e for e in events.of(u) if e["event"] != "RPC"]


def assert_service_error(res, text):
    assert res["ok"] is False, res
    assert res["class"] == SERVICE_EXC, res
    assert text in res["error"], res


# --- tcp.Close (4.8, checklist 24) ------------------------------------------------

def test_php_tcp_close_known_uuid(rr, events):
    srv = start(rr)
    c = Client(srv.port)
    assert c.ask("ECHO before") == "before"
    u = harness.connected_uuid(events, c.local_addr)
    res = rpc.php_call(srv.rpc_addr, "tcp.Close", u)
    assert res["ok"] is True and res["result"] is True, res
    assert c.read_to_eof(T(5)) == b"", "the client must see EOF, no data"
    events.wait_close(u, T(10))
    time.sleep(T(0.5))
    assert kinds(tcp_events(events, u)) == ["CONNECTED", "DATA", "CLOSE"]
    assert len(closes(events, u)) == 1


def test_php_tcp_close_unknown_uuid_is_true_and_harmless(rr, events):
    srv = start(rr)
    c = Client(srv.port)
    assert c.ask("ECHO x") == "x"
    u = harness.connected_uuid(events, c.local_addr)
    res = rpc.php_rpc(srv.rpc_addr, [("tcp.Close", str(uuidlib.uuid4())),
                                     ("tcp.Close", "not-a-uuid")])
    for r in res:
        assert r["ok"] is True and r["result"] is True, r
    c.expect_silence(T(0.5))
    assert c.ask("ECHO still-open") == "still-open"
    assert closes(events, u) == []
    assert srv.exited_pids() == []


# --- informer / resetter over the PHP client ----------------------------------------

def test_php_lists_and_seq_numbers(rr):
    srv = start(rr)
    res = rpc.php_rpc(srv.rpc_addr, [("informer.List", True),
                                     ("resetter.List", True),
                                     ("tcp.Nope", "x"),
                                     ("informer.List", True)])
    assert [r["result"] if r["ok"] else None for r in res] == \
        [["tcp"], ["tcp"], None, ["tcp"]]
    # one RPC object, one socket: the static seq runs 1, 2, 3, 4 and moves
    # on after an error reply too (the client throws on a seq mismatch)
    assert [(r["seq_before"], r["seq_after"]) for r in res] == \
        [(1, 2), (2, 3), (3, 4), (4, 5)]
    assert_service_error(res[2], "rpc: can't find method tcp.Nope")


def test_php_informer_workers(rr):
    before = time.time_ns()
    srv = start(rr, pool={"num_workers": 2})
    started = set(srv.worker_pids())
    res = rpc.php_call(srv.rpc_addr, "informer.Workers", "tcp")
    assert res["ok"], res
    assert list(res["result"].keys()) == ["workers"]
    ws = res["result"]["workers"]
    assert len(ws) == 2, ws
    assert {w["pid"] for w in ws} == started
    now = time.time_ns()
    for w in ws:
        assert list(w.keys()) == STATE_KEYS, w
        for k in ("pid", "status", "numExecs", "created", "memoryUsage"):
            assert type(w[k]) is int, "%s must be a JSON integer: %r" % (k, w)
        assert isinstance(w["CPUPercent"], (int, float)), w
        assert w["pid"] > 0
        assert w["statusStr"] in STATUS_NUM, w
        assert w["status"] == STATUS_NUM[w["statusStr"]], w
        assert w["command"] == ""
        assert before - 10**9 <= w["created"] <= now, w
        assert w["memoryUsage"] > 0, w


def test_php_informer_workers_unknown_plugin_is_empty_list(rr):
    # Q17: {"workers":null} would kill PHP's WorkerPool; rrtcp sends [].
    srv = start(rr)
    res = rpc.php_call(srv.rpc_addr, "informer.Workers", "nope")
    assert res == {"method": "informer.Workers", "seq_before": 1,
                   "ok": True, "result": {"workers": []}, "seq_after": 2}
    raw = RawRpc(srv.rpc_port)
    r = raw.call_json("informer.Workers", "nope", seq=9)
    assert r.body == b'{"workers":[]}'


def test_php_add_and_remove_worker(rr):
    srv = start(rr, pool={"num_workers": 2})
    port = srv.rpc_port
    orig = rpc.live_pids(port)
    assert len(orig) == 2
    res = rpc.php_call(srv.rpc_addr, "informer.AddWorker", "tcp")
    assert res["ok"] and res["result"] is False, res     # what RR replies
    three = harness.wait_until(
        lambda: (lambda p: p if len(p) == 3 else None)(rpc.live_pids(port)),
        T(10), interval=0.1, what="3 workers after AddWorker")
    assert set(orig) < set(three)
    time.sleep(T(0.5))
    assert len(rpc.worker_pids(port)) == 3, rpc.workers(port)
    res = rpc.php_call(srv.rpc_addr, "informer.RemoveWorker", "tcp")
    assert res["ok"] and res["result"] is False, res
    two = harness.wait_until(
        lambda: (lambda p: p if len(p) == 2 else None)(rpc.worker_pids(port)),
        T(10), interval=0.1, what="2 workers after RemoveWorker")
    assert set(two) < set(three)
    gone = (set(three) - set(two)).pop()
    harness.wait_until(lambda: not pid_alive(gone), T(12),
                       what="removed worker %d exits" % gone)
    time.sleep(T(0.5))
    assert rpc.worker_pids(port) == two, "the pool must not grow back"
    c = Client(srv.port)
    assert c.ask("ECHO served") == "served"


def test_php_remove_last_worker_is_noop(rr):
    srv = start(rr, pool={"num_workers": 1})
    [pid] = rpc.live_pids(srv.rpc_port)
    res = rpc.php_call(srv.rpc_addr, "informer.RemoveWorker", "tcp")
    assert res["ok"] and res["result"] is False, res
    time.sleep(T(0.7))
    assert rpc.worker_pids(srv.rpc_port) == [pid]
    assert pid_alive(pid)
    assert Client(srv.port).ask("PID") == str(pid)


def test_php_worker_management_unknown_plugin(rr):
    srv = start(rr)
    res = rpc.php_rpc(srv.rpc_addr, [("informer.AddWorker", "x"),
                                     ("informer.RemoveWorker", "x")])
    for r in res:
        assert_service_error(
            r, "plugin does not support workers management: x")
    assert len(rpc.worker_pids(srv.rpc_port)) == 2


def test_php_reset_replaces_every_worker_client_survives(rr, events):
    srv = start(rr, pool={"num_workers": 2})
    old = rpc.live_pids(srv.rpc_port)
    c = Client(srv.port)
    assert c.ask("ECHO before-reset") == "before-reset"
    res = rpc.php_call(srv.rpc_addr, "resetter.Reset", "tcp")
    assert res["ok"] and res["result"] is True, res
    new = rpc.wait_pids_replaced(srv.rpc_port, old, 2, T(15))
    assert c.ask("ECHO after-reset") == "after-reset"
    assert int(c.ask("PID")) in new
    for pid in old:
        harness.wait_until(lambda: not pid_alive(pid), T(12),
                           what="old worker %d exits" % pid)
    srv.wait_log(msg="resetting workers")
    u = harness.connected_uuid(events, c.local_addr)
    assert closes(events, u) == [], "a reset must not close clients"


def test_php_reset_unknown_plugin(rr):
    srv = start(rr)
    old = rpc.live_pids(srv.rpc_port)
    res = rpc.php_call(srv.rpc_addr, "resetter.Reset", "x")
    assert_service_error(res, "no such plugin: x")
    time.sleep(T(0.3))
    assert rpc.live_pids(srv.rpc_port) == old


def test_php_unknown_method_and_service(rr):
    srv = start(rr)
    res = rpc.php_rpc(srv.rpc_addr, [("tcp.Nope", "x"),
                                     ("nope.Foo", "x"),
                                     ("informer.List", True)])
    assert_service_error(res[0], "rpc: can't find method tcp.Nope")
    assert_service_error(res[1], "rpc: can't find service nope.Foo")
    # the exception names the relay, as goridge does
    assert "tcp://127.0.0.1:%d" % srv.rpc_port in res[0]["error"]
    assert res[2]["ok"] and res[2]["result"] == ["tcp"]


# --- the JSON frames byte by byte (checklist 25) -----------------------------------------

def test_raw_json_frames(rr):
    srv = start(rr, pool={"num_workers": 2})
    c = RawRpc(srv.rpc_port)
    r = c.call("tcp.Close", b'"0b7e4a1c-3f2d-4c8e-9a6b-5d1f2e3c4b5a"', seq=1)
    # R2 byte for byte
    assert r.raw == bytes.fromhex(
        "15080d00000097a1c320000001000000090000007463702e436c6f736574727565")
    r = c.call("informer.List", b"true", seq=4242)
    assert r.byte0 == 0x15 and r.flags == 0x08 and r.crc_ok()
    assert r.raw[10:12] == b"\x00\x00"
    assert r.options == [4242, len("informer.List")]
    assert r.method == b"informer.List" and r.body == b'["tcp"]'
    r = c.call("resetter.Reset", b'"x"', seq=4)
    # R3 byte for byte: JSON|ERROR, the error text as the body
    assert r.raw == bytes.fromhex("15481f000000ca662082000004000000"
                                  "0e000000") + b"resetter.Reset" + \
        b"no such plugin: x"
    r = c.call("tcp.Nope", b'"x"', seq=77)
    assert r.flags == 0x48 and r.options == [77, 8]
    assert r.method == b"tcp.Nope"
    assert r.body == b"rpc: can't find method tcp.Nope"
    r = c.call("informer.Jobs", b'"tcp"', seq=78)
    assert (r.flags, r.body) == (0x08, b"null")
    r = c.call("informer.Workers", b'"tcp"', seq=79)
    assert not r.is_error and r.options == [79, 16]
    text = r.body.decode()
    ws = json.loads(text)["workers"]
    assert len(ws) == 2
    # key order and integer tokens in the raw text
    state = (r'\{"pid":[1-9]\d*,"status":\d+,"numExecs":\d+,"created":\d+,'
             r'"memoryUsage":\d+,"CPUPercent":-?[\d.eE+-]+,"command":"",'
             r'"statusStr":"(ready|working)"\}')
    assert re.fullmatch(r'\{"workers":\[%s,%s\]\}' % (state, state), text), \
        text
    # pipelined requests on one connection, answered by seq
    c.send_raw(rpc.rpc_request("informer.List", b"true", 100) +
               rpc.rpc_request("resetter.List", b"true", 101))
    got = sorted((x.seq, x.method, x.body) for x in
                 (c.read_reply(), c.read_reply()))
    assert got == [(100, b"informer.List", b'["tcp"]'),
                   (101, b"resetter.List", b'["tcp"]')]
    c.close()


# --- RPC from inside an event (4.8 last sentence, Q25) ------------------------------------

@pytest.mark.deadline(40)
def test_worker_closes_its_own_connection_from_inside_an_event(rr, events):
    srv = start(rr, pool={"num_workers": 1})
    [pid] = srv.worker_pids()
    c = Client(srv.port)
    c.send(b"SELFCLOSE\r\n")
    data = c.read_to_eof(T(10))
    assert b"closed" not in data, \
        "the WRITE after tcp.Close must not reach a closed socket: %r" % data
    u = harness.connected_uuid(events, c.local_addr)
    evs = events.wait(lambda evs: any(e["event"] == "RPC" and e["uuid"] == u
                                      for e in evs), T(10), what="RPC record")
    [rec] = [e for e in evs if e["event"] == "RPC" and e["uuid"] == u]
    assert rec["rr_rpc"] == srv.rpc_addr, "RR_RPC must be set for workers"
    assert rec["ok"] is True and rec["result"] is True, rec
    events.wait_close(u, T(10))
    time.sleep(T(0.5))
    assert kinds(tcp_events(events, u)) == ["CONNECTED", "DATA", "CLOSE"]
    # the one worker answered both exchanges and is still serving
    assert Client(srv.port).ask("PID") == str(pid)
    assert srv.exited_pids() == []


@pytest.mark.deadline(40)
def test_worker_resets_the_pool_from_inside_an_event(rr, events):
    srv = start(rr, pool={"num_workers": 2})
    old = rpc.live_pids(srv.rpc_port)
    c = Client(srv.port)
    assert c.ask("ECHO before") == "before"
    assert c.ask("RESET", T(10)) == "reset true", \
        "Q25: the reset must not wait for the caller's own exec"
    new = rpc.wait_pids_replaced(srv.rpc_port, old, 2, T(15))
    assert c.ask("ECHO after") == "after"
    assert int(c.ask("PID")) in new


# --- gob, as the rr CLI speaks it (5.4) -------------------------------------------------

R4 = bytes.fromhex("15201500000022badf44000005000000" "0e000000") + \
    b"resetter.Reset" + bytes.fromhex("060c0003746370")
R5 = bytes.fromhex("1520120000009b8208d90000050000000e000000") + \
    b"resetter.Reset" + bytes.fromhex("03020001")


def test_gob_reset_r4_gives_r5(rr):
    srv = start(rr)
    old = rpc.live_pids(srv.rpc_port)
    c = RawRpc(srv.rpc_port)
    c.send_raw(R4)
    r = c.read_reply()
    assert r.raw == R5
    rpc.wait_pids_replaced(srv.rpc_port, old, 2, T(15))
    # an unknown plugin over gob: GOB|ERROR with the text
    r = c.call("resetter.Reset", rpc.gob_string_value("x"), seq=6,
               flags=rpc.FLAG_GOB)
    assert (r.flags, r.options, r.body) == \
        (0x60, [6, 14], b"no such plugin: x")
    c.close()


def test_gob_informer_list(rr):
    srv = start(rr)
    c = RawRpc(srv.rpc_port)
    r = c.call("informer.List", rpc.GOB_TRUE, seq=0, flags=rpc.FLAG_GOB)
    assert (r.flags, r.options, r.method) == \
        (0x20, [0, 13], b"informer.List")
    assert r.body == rpc.STRINGS_TCP
    r = c.call("resetter.List", rpc.GOB_TRUE, seq=1, flags=rpc.FLAG_GOB)
    assert r.body == rpc.STRINGS_TCP
    c.close()


def test_gob_informer_workers(rr):
    srv = start(rr, pool={"num_workers": 2})
    live = set(rpc.live_pids(srv.rpc_port))
    cl = Client(srv.port)
    assert cl.ask("ECHO a") == "a"          # some execs to report
    c = RawRpc(srv.rpc_port)
    r = c.call("informer.Workers", rpc.gob_string_value("tcp"), seq=3,
               flags=rpc.FLAG_GOB)
    assert (r.flags, r.options) == (0x20, [3, 16])
    assert r.body.startswith(rpc.WORKERS_DEFS), r.body.hex()
    msgs = rpc.gob_messages(r.body[len(rpc.WORKERS_DEFS):])
    assert len(msgs) == 1 and msgs[0][0] == 66, msgs
    assert r.body[len(rpc.WORKERS_DEFS) + 1:][:2] == b"\xff\x84"
    states = rpc.gob_decode_worker_list(msgs[0][1])
    assert {s["Pid"] for s in states} == live
    for s in states:
        assert s["StatusStr"] in STATUS_NUM
        assert s["Status"] == STATUS_NUM[s["StatusStr"]]
        assert "Command" not in s
        assert s["Created"] > 1_600_000_000 * 10**9
        assert s.get("MemoryUsage", 0) > 0
    assert sum(s.get("NumExecs", 0) for s in states) >= 2
    # an unknown plugin: the definitions, then an empty WorkerList
    r = c.call("informer.Workers", rpc.gob_string_value("nope"), seq=4,
               flags=rpc.FLAG_GOB)
    assert r.body == rpc.WORKERS_DEFS + bytes.fromhex("03ff8400")
    c.close()


def test_gob_informer_jobs(rr):
    srv = start(rr)
    c = RawRpc(srv.rpc_port)
    r = c.call("informer.Jobs", rpc.gob_string_value("tcp"), seq=2,
               flags=rpc.FLAG_GOB)
    assert (r.flags, r.options) == (0x20, [2, 13])
    assert r.body == rpc.JOBS_EMPTY
    c.close()


# --- the listener ------------------------------------------------------------------------

def test_non_loopback_rpc_listen_warns(rr):
    port = harness.free_port()
    srv = rr(command=harness.php_command("ops_worker.php"),
             pool={"num_workers": 1},
             rpc_listen="tcp://0.0.0.0:%d" % port)
    srv.wait_log(level="warn", msg=re.compile(r"(?i)authenticat"))
    assert rpc.json_call(port, "informer.List", True) == ["tcp"]
