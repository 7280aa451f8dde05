"""Worker output and stray frames in the log (rrtcp-protocol(7) 3.7; checklist 22)."""

import json
import re

import harness
from harness import Client, T, UUID_V4


def test_echo_lands_in_log_as_worker_output(rr, events):
    srv = rr(pool={"num_workers": 1})
    c = Client(srv.port)
    assert c.ask("SAY hello-from-echo") == "said"
    u = harness.connected_uuid(events, c.local_addr)
    pid = [e for e in events.of(u) if e["event"] == "DATA"][0]["pid"]
    srv.wait_log(msg="worker output", worker=str(pid),
                 line=re.compile(r"hello-from-echo"))
    assert c.ask("SAY second line") == "said"
    srv.wait_log(msg="worker output", worker=str(pid),
                 line=re.compile(r"second line"))
    assert c.ask("ECHO stream-intact") == "stream-intact"
    assert srv.exited_pids() == []


def read_json(c, timeout):
    raw = c.recv_until(b"}", timeout)
    assert raw.startswith(b"{"), "stray frame written to the client: %r" % raw
    return json.loads(raw)


def test_seed_example_stray_frame_is_logged_not_written(rr):
    srv = rr(command=harness.php_command("seed_example.php"),
             servers=["server2", "tcp_access_point_1"],
             pool={"num_workers": 1}, tcp_extra={"close_timeout": "1s"})
    [pid] = srv.worker_pids()
    mark = srv.mark()
    c = Client(srv.ports["server2"])
    c.expect_silence(T(1))             # the stray "220 mailamie" never arrives
    c.send(b"hello\r\n")               # must get its own answer, not the stray
    reply = read_json(c, T(10))
    assert reply == {"remote_addr": c.local_addr, "server": "server2",
                     "uuid": reply["uuid"], "body": "hello\r\n",
                     "event": "DATA"}
    assert UUID_V4.match(reply["uuid"])
    c.expect_silence(T(0.5))
    srv.wait_log(start=mark, level="warn", worker=str(pid),
                 msg=re.compile(r"(?i)no request|stray|unexpected|unsolicited"))
    # clients that send right after connecting: the stray frame of their
    # CONNECTED must not be taken as the answer to their DATA
    fast = []
    for i in range(10):
        e = Client(srv.ports["server2"])
        fast.append(e)                 # kept open: the worker never answers CLOSE
        e.send(b"fast %d\r\n" % i)
        r = read_json(e, T(10))
        assert (r["body"], r["remote_addr"]) == ("fast %d\r\n" % i, e.local_addr)
    d = Client(srv.ports["tcp_access_point_1"])
    d.send(b"anything\r\n")
    assert d.read_to_eof(T(10)) == b"Access denied"
    assert b"220" not in c.buf
