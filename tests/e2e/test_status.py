"""The status endpoints: RoadRunner's GET /health and /ready (status.c)."""

import signal
import socket
import threading
import time

import pytest

import harness
from harness import Client, T, wait_until


def _status_cfg(port, code=None):
    text = "status:\n  address: 127.0.0.1:%d\n" % port
    if code is not None:
        text += "  unavailable_status_code: %d\n" % code
    return text


def http_get(port, target, method="GET", timeout=None):
    """(status, body) of one request, read to EOF; (None, raw) if unparsable."""
    with socket.create_connection(("127.0.0.1", port),
                                  timeout=timeout or T(5)) as s:
        s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\n\r\n" % (method, target))
                  .encode())
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            return None, data
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        return int(head.split(b" ")[1]), body
    except (IndexError, ValueError):
        return None, data


def test_health_and_ready_with_and_without_the_query(rr):
    port = harness.free_port()
    srv = rr(extra=_status_cfg(port))
    assert srv.find(msg="status listening")
    for path in ("/health", "/ready"):
        for q in ("", "?plugin=tcp"):
            code, body = wait_until(
                lambda: (lambda r: r if r[0] == 200 else None)(
                    http_get(port, path + q)), T(5), what=path + q)
            assert body == b"plugin: tcp, status: 200\n"
        code, body = http_get(port, path + "?plugin=http")
        assert code == 404 and b"plugin: http not found" in body
        code, body = http_get(port, path, method="HEAD")
        assert code == 200 and body == b""
    assert http_get(port, "/nowhere")[0] == 404
    assert http_get(port, "/metrics")[0] == 404   # no metrics section
    assert http_get(port, "/ready", method="POST")[0] == 405


@pytest.mark.deadline(40)
def test_not_ready_while_no_worker_answered_its_handshake(rr):
    port = harness.free_port()
    srv = rr(command=harness.php_command("nohandshake.php"), ready=False,
             pool={"num_workers": 1, "allocate_timeout": "6s"},
             extra=_status_cfg(port, code=599))
    srv.wait_log(msg="status listening")
    code, body = http_get(port, "/ready?plugin=tcp")
    assert code == 599, body
    assert b"status: 599" in body
    assert http_get(port, "/health")[0] == 599
    srv.wait_exit(T(20))


@pytest.mark.deadline(40)
def test_not_ready_while_draining_but_healthy(rr, events):
    port = harness.free_port()
    srv = rr(pool={"num_workers": 1, "destroy_timeout": "10s"},
             extra=_status_cfg(port))
    wait_until(lambda: http_get(port, "/ready")[0] == 200, T(5))
    busy = Client(srv.port)
    busy.send(b"SLEEP 3\r\n")
    events.wait(lambda evs: any(e["event"] == "DATA" for e in evs),
                what="SLEEP dispatched")
    srv.signal(signal.SIGTERM)
    code, body = wait_until(
        lambda: (lambda r: r if r[0] == 503 else None)(
            http_get(port, "/ready?plugin=tcp")), T(2), what="503 draining")
    assert b"draining" in body
    assert http_get(port, "/health?plugin=tcp")[0] == 200
    assert busy.read_to_eof(T(10)) == b"slept\r\n"
    assert srv.wait_exit(T(10)) == 0


def _slowloris(port, stop):
    s = socket.create_connection(("127.0.0.1", port))
    try:
        for ch in b"GET /ready HTTP/1.1\r\nHost: x\r\n":
            if stop.is_set():
                break
            s.send(bytes([ch]))
            time.sleep(1)
    except OSError:
        pass
    finally:
        s.close()


@pytest.mark.deadline(60)
def test_slow_and_idle_peers_do_not_delay_anyone(rr):
    port = harness.free_port()
    srv = rr(extra=_status_cfg(port))
    wait_until(lambda: http_get(port, "/ready")[0] == 200, T(5))
    stop = threading.Event()
    slow = threading.Thread(target=_slowloris, args=(port, stop))
    slow.start()
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(100)]
    try:
        time.sleep(0.5)
        # TCP traffic goes on at its usual pace.
        c = Client(srv.port)
        t0 = time.monotonic()
        for i in range(20):
            assert c.ask("ECHO %d" % i) == "%d" % i
        assert time.monotonic() - t0 < T(2)
        c.close()
        # 100 idle connections fill the 64 slots; a probe displaces the
        # oldest idle one and is answered at once, well before any deadline.
        for path in ("/ready", "/health", "/ready?plugin=tcp"):
            t0 = time.monotonic()
            assert http_get(port, path, timeout=T(2))[0] == 200
            assert time.monotonic() - t0 < T(1)
        # The slow client got its socket closed by the 5 s deadline.
        slow.join(T(40))
        assert not slow.is_alive()
    finally:
        stop.set()
        for s in idle:
            s.close()


def _closed_without_answer_or_error(port, payload):
    with socket.create_connection(("127.0.0.1", port), timeout=T(8)) as s:
        try:
            s.sendall(payload)
        except OSError:
            return b""      # reset while sending: closed, as wanted
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return data
                data += chunk
        except ConnectionResetError:
            return data


def test_garbage_and_huge_headers_get_a_closed_socket(rr):
    port = harness.free_port()
    srv = rr(extra=_status_cfg(port))
    wait_until(lambda: http_get(port, "/ready")[0] == 200, T(5))
    data = _closed_without_answer_or_error(port, b"\x16\x03\x01\x00garbage\r\n\r\n")
    assert data == b"" or data.startswith(b"HTTP/1.1 400 ")
    big = b"GET /ready HTTP/1.1\r\nX-Big: " + b"a" * (1024 * 1024) + b"\r\n\r\n"
    data = _closed_without_answer_or_error(port, big)
    assert data == b"" or data.startswith(b"HTTP/1.1 431 ")
    assert http_get(port, "/ready?plugin=tcp")[0] == 200
    assert srv.proc.poll() is None
