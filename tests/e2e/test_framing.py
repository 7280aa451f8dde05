"""Delimiter framing, rrtcp policy (rrtcp-protocol(7) 4.6): one DATA per message."""

import re
import time

import harness
from harness import Client, T, kinds


def data_bodies(events, uuid):
    return [e["body"] for e in events.of(uuid) if e["event"] == "DATA"]


def test_data_body_includes_delimiter(rr, events):
    srv = rr()
    c = Client(srv.port)
    assert c.ask("ECHO hello") == "hello"
    u = harness.connected_uuid(events, c.local_addr)
    assert data_bodies(events, u) == [b"ECHO hello\r\n"]
    c.close()
    assert kinds(events.wait_close(u)) == ["CONNECTED", "DATA", "CLOSE"]


def test_two_messages_in_one_write_are_two_events(rr, events):
    srv = rr()
    c = Client(srv.port)
    c.send(b"ECHO one\r\nECHO two\r\n")
    assert c.line() == b"one\r\n"
    assert c.line() == b"two\r\n"
    u = harness.connected_uuid(events, c.local_addr)
    assert data_bodies(events, u) == [b"ECHO one\r\n", b"ECHO two\r\n"]


def test_message_split_byte_by_byte(rr, events):
    srv = rr()
    c = Client(srv.port, nodelay=True)
    for b in b"ECHO slowly\r\n":
        c.send(bytes([b]))
        time.sleep(0.02)
    assert c.line() == b"slowly\r\n"
    u = harness.connected_uuid(events, c.local_addr)
    assert data_bodies(events, u) == [b"ECHO slowly\r\n"]
    c.close()
    assert kinds(events.wait_close(u)) == ["CONNECTED", "DATA", "CLOSE"]


def test_delimiter_split_across_writes(rr, events):
    srv = rr()
    c = Client(srv.port, nodelay=True)
    c.send(b"ECHO ab\r")
    time.sleep(0.2)
    c.send(b"\nECHO cd\r\n")
    assert c.line() == b"ab\r\n"
    assert c.line() == b"cd\r\n"
    u = harness.connected_uuid(events, c.local_addr)
    assert data_bodies(events, u) == [b"ECHO ab\r\n", b"ECHO cd\r\n"]


def test_pending_bytes_wait_for_the_delimiter(rr, events):
    srv = rr()
    c = Client(srv.port, nodelay=True)
    c.send(b"ECHO part")
    c.expect_silence(T(0.5))
    c.send(b"ial\r\n")
    assert c.line() == b"partial\r\n"


def test_newline_delimiter(rr, events):
    srv = rr(servers={"nl": {"delimiter": "\n"}})
    c = Client(srv.port)
    c.send(b"ECHO x\nECHO y\r\n")
    assert c.line() == b"x\r\n"
    assert c.line() == b"y\r\n"
    u = harness.connected_uuid(events, c.local_addr)
    assert data_bodies(events, u) == [b"ECHO x\n", b"ECHO y\r\n"]


def test_multibyte_delimiter(rr, events):
    srv = rr(servers={"end": {"delimiter": "<END>"}})
    c = Client(srv.port, nodelay=True)
    c.send(b"ECHO a\r\nb<E<END>ECHO c<EN")
    time.sleep(0.2)
    c.send(b"D>")
    assert c.recv_until(b"<E\r\n") == b"a\r\nb<E\r\n"
    assert c.line() == b"c\r\n"
    u = harness.connected_uuid(events, c.local_addr)
    assert data_bodies(events, u) == [b"ECHO a\r\nb<E<END>", b"ECHO c<END>"]


def test_client_eof_with_pending_bytes(rr, events):
    srv = rr()
    c = Client(srv.port)
    c.send(b"ECHO full\r\nleftover")
    assert c.line() == b"full\r\n"
    c.shutdown_write()
    assert c.read_to_eof(T(10)) == b""      # rrtcp closes after the CLOSE event
    u = harness.connected_uuid(events, c.local_addr)
    evs = events.wait_close(u)
    time.sleep(T(0.3))                           # a second CLOSE would show up now
    evs = events.of(u)
    assert kinds(evs) == ["CONNECTED", "DATA", "DATA", "CLOSE"]
    assert [e["body"] for e in evs[1:3]] == [b"ECHO full\r\n", b"leftover"]


def test_client_eof_after_complete_lines_one_close(rr, events):
    srv = rr()
    c = Client(srv.port)
    assert c.ask("ECHO a") == "a"
    c.shutdown_write()
    assert c.read_to_eof(T(10)) == b""
    u = harness.connected_uuid(events, c.local_addr)
    events.wait_close(u)
    time.sleep(T(0.3))
    assert kinds(events.of(u)) == ["CONNECTED", "DATA", "CLOSE"]


def test_write_with_empty_body_keeps_connection(rr, events):
    srv = rr()
    c = Client(srv.port)
    c.send(b"EMPTY\r\n")
    c.expect_silence(T(0.5))
    assert c.ask("ECHO still-open") == "still-open"


def test_oversize_message_closes_connection(rr, events):
    srv = rr(servers={"main": {"max_message_size": 64}})
    c = Client(srv.port)
    assert c.ask("ECHO " + "x" * 40) == "x" * 40   # under the limit: fine
    mark = srv.mark()
    c.send(b"y" * 300)
    assert c.read_to_eof(T(10)) == b""
    u = harness.connected_uuid(events, c.local_addr)
    evs = events.wait_close(u)
    assert kinds(evs) == ["CONNECTED", "DATA", "CLOSE"]
    assert all(b"yyy" not in e["body"] for e in evs)
    rec = srv.wait_log(start=mark, level="warn", conn=re.compile(r"."),
                       reason=re.compile(r"."))
    assert rec["reason"]
    # the server keeps serving
    c2 = Client(srv.port)
    assert c2.ask("ECHO ok") == "ok"
