"""GET /metrics: the Prometheus text format, and counts that match traffic."""

import socket

from prometheus_client.parser import text_string_to_metric_families

import harness
from harness import Client, T, wait_until


def scrape(port):
    with socket.create_connection(("127.0.0.1", port), timeout=T(5)) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert b"text/plain; version=0.0.4" in head
    return body.decode()


def samples(text):
    """{(name, frozenset(labels)): value}, every family parsed for real."""
    out = {}
    for fam in text_string_to_metric_families(text):
        assert fam.documentation, fam.name
        assert fam.type in ("counter", "gauge", "histogram"), fam
        for s in fam.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, key
            out[key] = s.value
    return out


def val(m, name, **labels):
    return m[(name, frozenset(labels.items()))]


def test_counters_match_the_traffic(rr):
    port = harness.free_port()
    srv = rr(extra="metrics:\n  address: 127.0.0.1:%d\n" % port)
    m0 = samples(scrape(port))
    assert val(m0, "rrtcp_connections_accepted_total", server="main") == 0
    n, msgs, sent_in, sent_out = 5, 0, 0, 0
    clients = [Client(srv.port) for _ in range(n)]
    during = samples(scrape(port))
    wait_until(lambda: val(samples(scrape(port)), "rrtcp_connections_open",
                           server="main") == n, T(5), what="open == n")
    assert val(during, "rrtcp_connections_accepted_total", server="main") <= n
    for i, c in enumerate(clients):
        for j in range(3):
            line = b"ECHO %d-%d\r\n" % (i, j)
            c.send(line)
            assert c.line() == b"%d-%d\r\n" % (i, j)
            msgs += 1
            sent_in += len(line)
            sent_out += len(line) - len(b"ECHO ")
        c.send(b"QUIT\r\n")
        assert c.read_to_eof(T(5)) == b"bye\r\n"
        msgs += 1
        sent_in += len(b"QUIT\r\n")
        sent_out += len(b"bye\r\n")
    # The last CLOSE events may still run when the clients have their EOF.
    m = wait_until(lambda: (lambda x: x if val(
        x, "rrtcp_event_duration_seconds_count", server="main") ==
        n + msgs + n else None)(samples(scrape(port))), T(5),
        what="every event's outcome counted")
    assert val(m, "rrtcp_connections_accepted_total", server="main") == n
    assert val(m, "rrtcp_connections_open", server="main") == 0
    assert val(m, "rrtcp_connections_closed_total", server="main",
               reason="worker") == n
    assert val(m, "rrtcp_events_total", server="main", event="CONNECTED") == n
    assert val(m, "rrtcp_events_total", server="main", event="DATA") == msgs
    assert val(m, "rrtcp_received_bytes_total", server="main") == sent_in
    assert val(m, "rrtcp_sent_bytes_total", server="main") == sent_out
    assert val(m, "rrtcp_event_duration_seconds_count", server="main") == \
        n + msgs + n
    assert val(m, "rrtcp_event_queue_wait_seconds_count", server="main") == \
        n + msgs + n
    assert val(m, "rrtcp_event_duration_seconds_bucket", server="main",
               le="+Inf") == n + msgs + n
    # Worker states are sampled every 500 ms on the control loop.
    wait_until(lambda: (lambda x: val(x, "rrtcp_workers", state="ready") +
                        val(x, "rrtcp_workers", state="working"))(
        samples(scrape(port))) == 2, T(5), what="2 workers in service")
    assert val(m, "process_resident_memory_bytes") > 0
    assert val(m, "process_open_fds") > 0
    for reason in ("no_worker", "queue_full", "worker_error", "timeout"):
        assert val(m, "rrtcp_events_failed_total", server="main",
                   reason=reason) == 0


def test_failed_events_and_restarts_are_counted(rr):
    port = harness.free_port()
    srv = rr(extra="metrics:\n  address: 127.0.0.1:%d\n" % port)
    c = Client(srv.port)
    c.send(b"ERR\r\n")
    assert c.read_to_eof(T(5)) == b""
    c = Client(srv.port)
    c.send(b"EXIT\r\n")
    assert c.read_to_eof(T(5)) == b""
    def restarted():
        x = samples(scrape(port))
        return x if any(k[0] == "rrtcp_worker_restarts_total"
                        for k in x) else None
    m = wait_until(restarted, T(5), what="a worker restart counted")
    assert val(m, "rrtcp_events_failed_total", server="main",
               reason="worker_error") == 1
    assert val(m, "rrtcp_events_failed_total", server="main",
               reason="worker_failed") == 1
    assert val(m, "rrtcp_connections_closed_total", server="main",
               reason="event_failed") == 2
    restarts = sum(v for k, v in m.items()
                   if k[0] == "rrtcp_worker_restarts_total")
    assert restarts >= 1
