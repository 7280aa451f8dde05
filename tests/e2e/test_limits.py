"""Per-server limits a public server needs (rrtcp.yaml(5): idle_timeout,
write_timeout, max_output_buffer, max_connections_per_ip).  Each closes
the connection with a logged reason, and the connection still gets its one
CLOSE event."""

import re
import socket
import time

import pytest

import harness
from harness import Client, T, kinds, wait_until

BIG_REPLY = harness.php_command("big_reply.php")


def small_rcvbuf_client(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.settimeout(T(10))
    s.connect(("127.0.0.1", port))
    return s


def wait_one_close(events, local_addr):
    u = harness.connected_uuid(events, local_addr)
    events.wait_close(u, T(10))
    time.sleep(T(0.3))
    got = kinds(events.of(u))
    assert got.count("CLOSE") == 1 and got[0] == "CONNECTED", got
    return got


@pytest.mark.deadline(30)
def test_idle_timeout_closes_a_silent_client_with_one_close(rr, events):
    srv = rr(servers={"main": {"idle_timeout": "600ms"}})
    quiet = Client(srv.port)
    busy = Client(srv.port)
    quiet.sock.setblocking(False)
    t0 = time.monotonic()
    closed_after = None
    # The busy client talks every 200 ms and outlives the quiet one.
    while time.monotonic() - t0 < T(5):
        assert busy.ask("ECHO hi") == "hi"
        try:
            if quiet.sock.recv(1) == b"":
                closed_after = time.monotonic() - t0
                break
        except BlockingIOError:
            pass
        time.sleep(0.2)
    assert closed_after is not None, "the quiet client was never closed"
    assert closed_after >= 0.6, closed_after
    assert busy.ask("ECHO still") == "still"
    rec = srv.wait_log(msg="connection closed",
                       reason="idle_timeout (600ms): no bytes from the client")
    assert rec["level"] == "info"
    wait_one_close(events, quiet.local_addr)


@pytest.mark.deadline(30)
def test_write_timeout_resets_a_client_that_reads_nothing(rr, events):
    srv = rr(servers={"main": {"write_timeout": "700ms"}}, command=BIG_REPLY,
             pool={"num_workers": 1})
    s = small_rcvbuf_client(srv.port)
    local = "%s:%d" % s.getsockname()
    s.sendall(b"BIG %d\r\n" % (8 << 20))
    rec = srv.wait_log(msg="connection closed", timeout=T(8),
                       reason="write_timeout (700ms): the client takes no "
                       "output")
    assert int(rec["unsent"]) > 0 and rec["reset"] == "1", rec
    assert rec["level"] == "warn"
    # The client sees a reset, never a clean end after a cut reply.
    with pytest.raises(ConnectionResetError):
        while s.recv(1 << 20):
            pass
    wait_one_close(events, local)


@pytest.mark.deadline(30)
def test_max_output_buffer_closes_when_a_reply_would_exceed_it(rr, events):
    srv = rr(servers={"main": {"max_output_buffer": "1MB"}},
             command=BIG_REPLY, pool={"num_workers": 1})
    s = small_rcvbuf_client(srv.port)
    local = "%s:%d" % s.getsockname()
    s.sendall(b"BIG %d\r\n" % (8 << 20))
    srv.wait_log(msg="connection closed",
                 reason="max_output_buffer exceeded (1048576 bytes)")
    wait_one_close(events, local)
    # A reply that fits is still delivered whole on a new connection.
    s2 = socket.create_connection(("127.0.0.1", srv.port), T(5))
    s2.sendall(b"BIG 100000\r\n")
    got = b""
    while len(got) < 100000:
        chunk = s2.recv(65536)
        assert chunk, "EOF after %d bytes" % len(got)
        got += chunk
    assert got == (b"0123456789abcdef" * 6250)


@pytest.mark.deadline(30)
def test_max_connections_per_ip_refuses_the_extra_ones(rr, events):
    srv = rr(servers={"main": {"max_connections_per_ip": 2}})
    a, b = Client(srv.port), Client(srv.port)
    assert a.ask("ECHO a") == "a" and b.ask("ECHO b") == "b"
    c = Client(srv.port)
    assert c.read_to_eof(T(3)) == b""
    rec = srv.wait_log(msg="connection refused",
                       reason="max_connections_per_ip reached")
    assert rec["limit"] == "2" and rec["remote"].startswith("127.0.0.1:")
    # The refused connection never reached a worker: no event for it.
    time.sleep(T(0.3))
    assert not [e for e in events.all()
                if e.get("remote_addr") == c.local_addr]
    a.close()
    wait_until(lambda: [e for e in events.all() if e["event"] == "CLOSE"],
               T(5), what="a's CLOSE")
    d = Client(srv.port)
    assert d.ask("ECHO d") == "d"


@pytest.mark.deadline(60)
def test_max_buffer_memory_bounds_clients_that_do_not_read(rr, events):
    """Eight clients that do not read, owed 30 MB each: the server holds at
    most tcp.max_buffer_memory for them, closes the most expensive ones
    with a reason (each still gets its one CLOSE), and keeps serving."""
    limit = 64 << 20
    srv = rr(command=BIG_REPLY,
             pool={"num_workers": 4, "allocate_timeout": "%ds" % T(20)},
             tcp_extra={"max_buffer_memory": limit})
    base = harness.rss_kib(srv.proc.pid)
    hogs = []
    for _ in range(8):
        s = small_rcvbuf_client(srv.port)
        s.sendall(b"BIG %d\r\n" % (30 << 20))
        hogs.append(s)
    wait_until(lambda: len(srv.find(
        msg="connection closed",
        reason=re.compile(r"^tcp.max_buffer_memory \(67108864 bytes\) "
                          r"reached; this connection held \d+"))) >= 4,
        T(20), what="the expensive clients closed")
    peak = harness.rss_kib(srv.proc.pid)
    # 8 x 30 MB would be 240 MB; the limit plus one reply in flight bounds it.
    if not harness.sanitized():
        assert peak - base < 3 * (limit >> 10), (base, peak)
    c = Client(srv.port)
    c.send(b"BIG 1000\r\n")
    assert len(c.recv_until(b"789", T(5))) >= 3
    for s in hogs:
        s.close()
    closes = lambda: [e for e in events.all() if e["event"] == "CLOSE"]
    wait_until(lambda: len(closes()) >= 8, T(15), what="eight CLOSE events")
    time.sleep(T(0.3))
    per_uuid = {}
    for e in closes():
        per_uuid[e["uuid"]] = per_uuid.get(e["uuid"], 0) + 1
    assert all(n == 1 for n in per_uuid.values()), per_uuid
