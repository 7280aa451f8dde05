"""Promises the server must keep around the centre of the pipeline: the idle
queue after retirements, replies that outgrow the socket buffers, and the
request stream to a worker that answers before reading its whole request."""

import hashlib
import json
import signal
import socket
import struct
import threading
import time
import zlib

import pytest

import harness
from harness import Client, T, wait_until

BIG_REPLY = harness.php_command("big_reply.php")
EARLY = harness.php_command("early_answer.php")


def pattern(n):
    return (b"0123456789abcdef" * (n // 16 + 1))[:n]


def slow_socket(port, rcvbuf=65536):
    """A client socket with a small receive buffer, so that a big reply
    backs up into the server instead of sitting in the kernel."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(T(10))
    s.connect(("127.0.0.1", port))
    return s


def read_all(s, timeout, pace=0.001):
    """Reads until EOF (or reset), slowly: a pause of pace seconds after
    each recv keeps the server's side of the connection backed up, so it
    flushes its pending output a little at a time.  Returns (bytes, how it
    ended)."""
    deadline = time.monotonic() + timeout
    got = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(got), "timeout"
        s.settimeout(left)
        try:
            chunk = s.recv(16384)
        except socket.timeout:
            return bytes(got), "timeout"
        except ConnectionResetError:
            return bytes(got), "reset"
        if not chunk:
            return bytes(got), "eof"
        got += chunk
        time.sleep(pace)


def burst(srv, count, tag):
    """count clients at once, each asking one ECHO: every one is served."""
    results = {}

    def client(k):
        try:
            c = Client(srv.port, timeout=T(8))
            results[k] = c.ask("ECHO %s%d" % (tag, k))
            c.close()
        except (AssertionError, OSError) as e:
            results[k] = "error: %s" % e
    threads = [threading.Thread(target=client, args=(k,))
               for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(T(15))
    bad = {k: v for k, v in results.items() if v != "%s%d" % (tag, k)}
    assert len(results) == count and not bad, \
        "clients not served: %r\n%s" % (bad, srv.dump())


# --- a) retiring idle workers ------------------------------------------------


@pytest.mark.deadline(40)
def test_idle_queue_survives_back_to_back_resets(rr, events):
    """An idle pool must not die while every worker is alive: resetting idle
    workers several times with no traffic in between leaves no stale entries
    in the idle queue, so afterwards a burst of clients larger than the pool
    is served, no client is refused for want of a worker, and the server's
    descriptor count goes back to what it was."""
    n = 2
    srv = rr(pool={"num_workers": n, "allocate_timeout": "3s"})
    pid = srv.proc.pid
    base = harness.open_fds(pid)
    for i in range(6):
        mark = srv.mark()
        srv.signal(signal.SIGUSR2)
        wait_until(lambda: len(srv.worker_pids(mark)) >= n, T(15),
                   what="generation %d of workers" % (i + 1))
    burst(srv, 3 * n, "burst")
    assert not srv.find_lines(r"no free worker"), srv.dump()
    # Retired workers' pipes and pidfds must all be closed again.
    wait_until(lambda: harness.open_fds(pid) <= base + 2, T(5),
               what="descriptors back to %d (now %d)" % (base, harness.open_fds(pid)))
    assert srv.proc.poll() is None


@pytest.mark.deadline(40)
def test_idle_queue_survives_ttl_on_a_quiet_server(rr, events):
    """The same promise with the supervisor: ttl 1s retires idle workers over
    and over on a server with no traffic; afterwards a burst of clients is
    served and no descriptor is left behind by the retired workers."""
    n = 2
    srv = rr(pool={"num_workers": n, "allocate_timeout": "3s",
                   "supervisor": {"ttl": "1s", "watch_tick": "1s"}})
    pid = srv.proc.pid
    base = harness.open_fds(pid)
    first = set(srv.worker_pids())
    wait_until(lambda: len(set(srv.worker_pids()) - first) >= 3 * n, T(15),
               what="three generations retired by ttl")
    burst(srv, 3 * n, "quiet")
    assert not srv.find_lines(r"no free worker"), srv.dump()
    wait_until(lambda: harness.open_fds(pid) <= base + 2, T(5),
               what="descriptors back to %d (now %d)" % (base, harness.open_fds(pid)))


# --- b) big replies to slow readers --------------------------------------------

# More than the kernel buffers on both sides hold (tcp_wmem max is 4 MiB),
# so part of the reply has to wait in rrtcp for the reader.
BIG = 16 * 1024 * 1024


@pytest.mark.deadline(40)
def test_big_reply_survives_client_half_close(rr, events):
    """Replies are not cut off without a trace: a client that sends its
    message and half-closes at once, then reads slowly, still receives every
    byte of the reply before the server closes the connection."""
    srv = rr(command=BIG_REPLY, pool={"num_workers": 1})
    s = slow_socket(srv.port)
    s.sendall(b"BIG %d\r\n" % BIG)
    s.shutdown(socket.SHUT_WR)
    time.sleep(0.5)             # let the socket buffers fill up
    got, end = read_all(s, T(15))
    s.close()
    assert len(got) == BIG, \
        "got %d of %d bytes, then %s\n%s" % (len(got), BIG, end, srv.dump())
    same = got == pattern(BIG)
    assert same, "the reply bytes differ from what the worker wrote"
    assert end == "eof"


@pytest.mark.deadline(40)
def test_big_reply_survives_sigterm_within_destroy_timeout(rr, events):
    """A reply still pending for a slow reader when SIGTERM arrives is
    delivered in full within destroy_timeout, then the server exits 0.
    Three readers at once: where the server cuts a reply depends on how the
    kernel batches its send-buffer wake-ups, so one reader alone can be
    lucky."""
    k = 3
    srv = rr(command=BIG_REPLY, pool={"num_workers": k,
                                      "destroy_timeout": "%ds" % T(5)})
    socks = [slow_socket(srv.port) for _ in range(k)]
    for s in socks:
        s.sendall(b"BIG %d\r\n" % BIG)
    # every worker answered: the DATA events are recorded, the replies flow
    events.wait(lambda evs: sum(e["event"] == "DATA" for e in evs) == k,
                what="DATA dispatched")
    time.sleep(0.3)
    srv.signal(signal.SIGTERM)
    time.sleep(0.5)             # slow readers
    results = [None] * k

    def reader(i):
        results[i] = read_all(socks[i], T(10))
    threads = [threading.Thread(target=reader, args=(i,)) for i in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(T(15))
    for s in socks:
        s.close()
    short = [(len(got), end) for got, end in results if len(got) != BIG]
    assert not short, "replies cut short (bytes, end) of %d: %r\n%s" % (
        BIG, short, srv.dump())
    same = all(got == pattern(BIG) for got, _ in results)
    assert same, "the reply bytes differ from what the workers wrote"
    assert srv.wait_exit(T(10)) == 0


# --- c) a worker that answers before reading its whole request ---------------------

FORGED_UUID = "66666666-6666-4666-8666-666666666666"
FORGED_ADDR = "6.6.6.6:666"


def forged_frame():
    """A well-formed goridge request frame (rrtcp-protocol(7) 1.1, 2) with a
    context of its own; the body holds no CRLF so it cannot end a message."""
    ctx = json.dumps({"remote_addr": FORGED_ADDR, "server": "main",
                      "uuid": FORGED_UUID, "event": "DATA"},
                     separators=(",", ":")).encode()
    payload = ctx + b"FORGED"
    head = struct.pack("<BBI", 0x14, 0, len(payload))
    head += struct.pack("<I", zlib.crc32(head)) + b"\0\0"
    return head + struct.pack("<I", len(ctx)) + payload


@pytest.mark.deadline(40)
def test_request_stream_stays_in_step_with_an_early_answer(rr, events):
    """The request stream to a worker cannot fall out of step: when a worker
    answers a large request before reading all of it, rrtcp still writes the
    whole request before the next one, so the worker only ever sees
    well-formed events with real uuids (never a frame forged inside a body),
    the other client gets exactly its own answer, and the pool keeps going."""
    srv = rr(servers={"main": {"max_message_size": "8MiB"}}, command=EARLY,
             pool={"num_workers": 1})
    frame = forged_frame()
    body = frame * (2 * 1024 * 1024 // len(frame) + 1) + b"\r\n"
    a = Client(srv.port, timeout=T(10))
    b = Client(srv.port, timeout=T(10))
    sender = threading.Thread(target=a.send, args=(body,))
    sender.start()
    b.send(b"small\r\n")
    sender.join(T(10))
    assert b.recv_until(b"\n", T(10)) == b"ok\n", srv.dump()
    assert a.recv_until(b"\n", T(10)) == b"ok\n", srv.dump()
    b.send(b"again\r\n")
    try:
        again = b.recv_until(b"\n", T(5))
    except AssertionError as e:
        again = "no answer: %s" % e
    evs = events.all()
    want = {a.local_addr, b.local_addr}
    bad = [e for e in evs if e["event"] == "BADFRAME" or
           (e["event"] not in ("START", "BODY") and
            (e.get("remote_addr") not in want or e.get("uuid") == FORGED_UUID))]
    assert not bad, "the worker saw events it was never sent: %r" % bad[:5]
    assert again == b"ok\n", "the pool stalled: %s; the worker saw %r\n%s" % (
        again, [(e["event"], e.get("remote_addr"), e.get("body_len"))
                for e in evs], srv.dump())
    b.expect_silence(T(0.3))        # exactly one answer per message
    evs = events.wait(lambda evs: sum(e["event"] == "BODY" for e in evs) >= 5,
                      T(10), what="the bodies of both clients' events")
    real = {e["uuid"] for e in evs if e["event"] == "CONNECTED"}
    assert {e["uuid"] for e in evs if e["event"] == "BODY"} <= real
    a_data = [e for e in evs if e["event"] == "DATA" and
              e["remote_addr"] == a.local_addr]
    assert [e["body_len"] for e in a_data] == [len(body)], a_data
    a_body = [e for e in evs if e["event"] == "BODY" and
              e["uuid"] == a_data[0]["uuid"] and
              e["body_md5"] == hashlib.md5(body).hexdigest()]
    assert a_body, "the worker did not receive A's body intact"
