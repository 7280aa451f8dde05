"""Request context (rrtcp-protocol(7) 4.3, checklist 4-7)."""

import json
import re

import harness
from harness import Client, T, UUID_V4, kinds


CTX_RE = re.compile(
    r'^\{"remote_addr":"([^"]*)","server":"([^"]*)","uuid":"([^"]*)",'
    r'"event":"(CONNECTED|DATA|CLOSE)"\}$')


def test_connected_context_fields_and_key_order(rr, events):
    srv = rr()
    c = Client(srv.port)
    uuid = harness.connected_uuid(events, c.local_addr)
    assert c.ask("CTX") == [e for e in events.of(uuid)
                            if e["event"] == "DATA"][0]["ctx"]
    c.close()
    evs = events.wait_close(uuid)
    assert kinds(evs) == ["CONNECTED", "DATA", "CLOSE"]
    for e in evs:
        m = CTX_RE.match(e["ctx"])
        assert m, "ctx not exactly remote_addr,server,uuid,event: %r" % e["ctx"]
        assert m.group(1) == c.local_addr      # ip:port of the client
        assert m.group(2) == "main"
        assert m.group(3) == uuid
        assert m.group(4) == e["event"]
        assert json.loads(e["ctx"]) == {"remote_addr": c.local_addr,
                                        "server": "main", "uuid": uuid,
                                        "event": e["event"]}
    assert UUID_V4.match(uuid), uuid
    assert evs[0]["body"] == b"" and evs[2]["body"] == b""


def test_uuid_same_within_connection_distinct_across(rr, events):
    srv = rr()
    clients = [Client(srv.port) for _ in range(5)]
    uuids = []
    for c in clients:
        u = c.ask("UUID")
        assert UUID_V4.match(u), u
        assert c.ask("UUID") == u
        uuids.append(u)
    assert len(set(uuids)) == len(uuids)
    for c in clients:
        c.close()
    for c, u in zip(clients, uuids):
        evs = events.wait_close(u)
        assert {e["uuid"] for e in evs} == {u}
        assert {e["remote_addr"] for e in evs} == {c.local_addr}


def test_server_name_is_lower_cased_config_key(rr, events):
    srv = rr(servers=["Alpha"])
    c = Client(srv.ports["Alpha"])
    assert re.search(r'"server":"alpha"', c.ask("CTX"))
    c.close()


def test_greeting_arrives_before_client_sends(rr, events):
    srv = rr(env={"GREETING": "220 hello from {pid}"})
    c = Client(srv.port)
    line = c.line(T(5))
    assert re.fullmatch(rb"220 hello from \d+\r\n", line), line
    pid = int(line.split()[-1])
    assert pid in srv.worker_pids()
    assert c.ask("ECHO after-greeting") == "after-greeting"
    c.close()
