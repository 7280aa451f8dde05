"""Response kinds (rrtcp-protocol(7) 4.4, checklist 11-14)."""

import time

import harness
from harness import Client, T, kinds


def _close_case(rr, events, cmd, expect_body):
    srv = rr()
    c = Client(srv.port)
    c.send(cmd + b"\r\n")
    assert c.read_to_eof(T(10)) == expect_body
    u = harness.connected_uuid(events, c.local_addr)
    evs = events.wait_close(u)
    time.sleep(T(0.3))
    assert kinds(events.of(u)) == ["CONNECTED", "DATA", "CLOSE"]
    assert evs[-1]["body"] == b""
    # the worker that answered is still fine
    c2 = Client(srv.port)
    assert c2.ask("ECHO next") == "next"
    assert srv.exited_pids() == []
    return srv


def test_writeclose_sends_body_then_eof_then_close_event(rr, events):
    _close_case(rr, events, b"QUIT", b"bye\r\n")


def test_close_response(rr, events):
    _close_case(rr, events, b"CLOSE", b"")


def test_unknown_response_is_treated_as_close(rr, events):
    _close_case(rr, events, b"UNKNOWN", b"")
