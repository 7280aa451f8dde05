"""The pool under stress: a worker flooding stderr, a streak of failed
spawns, resets in quick succession, AddWorker past the maximum, and the
memory a large answer leaves behind."""

import re
import signal
import time

import pytest

import harness
from harness import Client, T, wait_until
import rpc_client as rpc

FLOOD = harness.php_command("stderr_flood.php")
FLAG_START = harness.php_command("flag_start.php")
SLOW_START = harness.php_command("slow_start.php")
BIG_REPLY = harness.php_command("big_reply.php")


def start(rr, pool=None, **kw):
    port = harness.free_port()
    srv = rr(pool=pool, rpc_listen=rpc.rpc_addr(port), **kw)
    srv.rpc_port = port
    return srv


def rpc_latency(port):
    t0 = time.monotonic()
    ws = rpc.workers(port)
    return time.monotonic() - t0, ws


# --- 1. a worker flooding stderr -------------------------------------------------

@pytest.mark.deadline(40)
def test_stderr_flood_neither_starves_the_loop_nor_fills_the_log(rr):
    rate = 100
    srv = start(rr, pool={"num_workers": 1, "destroy_timeout": "3s"},
                command=FLOOD,
                extra="logs:\n  worker_lines_per_second: %d\n" % rate)
    t_ready = time.monotonic()
    srv.wait_log(msg="worker output", line=re.compile(r"^flood \d+ "))
    time.sleep(T(1))            # the pipe is full and stays full
    for _ in range(5):
        took, ws = rpc_latency(srv.rpc_port)
        assert took < T(0.2), "informer.Workers took %.3fs during the " \
            "flood\n%s" % (took, srv.dump(50))
        assert len(ws) == 1
        time.sleep(0.1)
    dropped = srv.wait_log(msg="worker output dropped", timeout=T(3))
    assert int(dropped["dropped"]) > 0, dropped
    assert dropped.get("lines_per_second") == str(rate), dropped

    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    rc = srv.wait_exit(T(10))
    took = time.monotonic() - t0
    assert rc == 0, srv.dump(50)
    # it ignores the stop command: SIGKILL after destroy_timeout (3 s)
    assert took < 3 + T(1.5), "SIGTERM took %.1fs with destroy_timeout " \
        "3s\n%s" % (took, srv.dump(50))
    assert srv.find(msg="worker killed")
    # bounded: a burst of 5 s worth, then `rate` lines a second
    elapsed = time.monotonic() - t_ready
    lines = srv.find(msg="worker output")
    assert len(lines) <= rate * (5 + elapsed + 2), \
        "%d worker output lines in %.1fs" % (len(lines), elapsed)
    assert len(srv.log_text()) < 2 * 1024 * 1024
    reports = srv.find(msg="worker output dropped")
    assert sum(int(r["dropped"]) for r in reports) > 1000


# --- 2. a streak of failed spawns ---------------------------------------------------

@pytest.mark.deadline(60)
def test_first_success_after_failed_spawns_refills_the_pool(rr, tmp_path):
    flag = tmp_path / "flag"
    flag.write_text("up")
    srv = start(rr, pool={"num_workers": 4}, command=FLAG_START,
                server_env={"FLAG_FILE": str(flag)})
    flag.unlink()
    mark = srv.mark()
    rpc.json_call(srv.rpc_port, "resetter.Reset", "tcp")
    # let the backoff grow: 100+200+400+800+1600 ms of failures
    wait_until(lambda: len(srv.find(mark, msg="worker failed to start")) >= 6,
               T(20), what="six failed spawns")
    flag.write_text("up")
    t0 = time.monotonic()
    first = srv.wait_log(start=mark, msg="worker started", timeout=T(10))
    t_first = time.monotonic()
    wait_until(lambda: len(srv.find(mark, msg="worker started")) >= 4, T(15),
               what="four workers started")
    t_all = time.monotonic()
    # the backoff is 3.2 s or more by now: the other three do not wait for
    # it once the first one is up
    assert t_all - t_first < T(1.5), \
        "first worker %s at +%.1fs, all four at +%.1fs\n%s" % (
            first["worker"], t_first - t0, t_all - t0, srv.dump(60))
    assert len(rpc.live_pids(srv.rpc_port)) == 4
    assert Client(srv.port).ask("ECHO ok") == "ok"


# --- 3. resets in quick succession ------------------------------------------------

@pytest.mark.deadline(40)
def test_second_reset_does_not_kill_workers_in_their_handshake(rr):
    srv = start(rr, pool={"num_workers": 2}, command=SLOW_START)
    old = rpc.live_pids(srv.rpc_port)
    mark = srv.mark()
    rpc.json_call(srv.rpc_port, "resetter.Reset", "tcp")
    time.sleep(0.1)
    rpc.json_call(srv.rpc_port, "resetter.Reset", "tcp")
    new = rpc.wait_pids_replaced(srv.rpc_port, old, 2, T(15),
                                 what="two new workers after two resets")
    time.sleep(T(0.5))
    assert not srv.find(mark, msg="worker killed"), srv.dump(40)
    assert not srv.find(mark, msg="worker failed to start"), srv.dump(40)
    started = srv.worker_pids(mark)
    assert sorted(started) == new, (started, new, srv.dump(40))
    assert rpc.live_pids(srv.rpc_port) == new
    assert Client(srv.port).ask("ECHO ok") == "ok"


# --- 4. AddWorker past the maximum ---------------------------------------------------

def test_add_worker_past_the_maximum_is_an_error_reply(rr):
    srv = start(rr, pool={"num_workers": 2, "max_workers": 3})
    assert rpc.json_call(srv.rpc_port, "informer.AddWorker", "tcp") is False
    wait_until(lambda: len(rpc.live_pids(srv.rpc_port)) == 3, T(10),
               what="three workers after AddWorker")
    c = rpc.RawRpc(srv.rpc_port)
    r = c.call_json("informer.AddWorker", "tcp", seq=2)
    c.close()
    assert r.is_error, r.raw
    assert b"cannot add a worker: the pool has 3 workers, the maximum" \
        in r.body, r.body
    time.sleep(T(0.3))
    assert len(rpc.live_pids(srv.rpc_port)) == 3


def test_max_workers_below_num_workers_is_a_config_error(spawn, tmp_path):
    port = harness.free_port()
    text = harness.make_config({"main": {"addr": "127.0.0.1:%d" % port}},
                               pool={"num_workers": 4, "max_workers": 2})
    cfg = tmp_path / "rr.yaml"
    cfg.write_text(text)
    p = spawn(["serve", "-c", str(cfg)])
    assert p.wait_exit(T(10)) == 2
    assert any("max_workers" in l for l in p.lines), p.dump()


# --- 5. memory after large answers -----------------------------------------------------

@pytest.mark.deadline(60)
def test_read_buffer_shrinks_after_large_answers(rr):
    if harness.sanitized():
        pytest.skip("a sanitizer's quarantine keeps freed memory resident")
    big = 50 * 1000 * 1000
    srv = start(rr, pool={"num_workers": 1}, command=BIG_REPLY)
    c = Client(srv.port, timeout=T(30))
    assert c.ask("SMALL") == "?"
    base = harness.rss_kib(srv.proc.pid)
    for _ in range(3):
        c.send(b"BIG %d\r\n" % big)
        got = 0
        while got < big:
            n = len(c.sock.recv(1 << 20))
            assert n > 0, "EOF after %d of %d bytes" % (got, big)
            got += n
    assert c.ask("SMALL") == "?"
    # the answers have been read and written out: nothing holds them now
    wait_until(lambda: harness.rss_kib(srv.proc.pid) - base < 20 * 1024, T(5),
               what="VmRSS back within 20 MB of %d KiB (now %d KiB)" % (
                   base, harness.rss_kib(srv.proc.pid)))
