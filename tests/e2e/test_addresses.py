"""Listen addresses and remote_addr text: IPv6, names, unix sockets
(rrtcp-protocol(7) 4.1, 4.3; Q10)."""

import json
import socket

import harness
from harness import Client, T


class Unix(Client):
    """A Client over a unix socket (the harness Client speaks TCP)."""

    def __init__(self, path, timeout=None):
        self.timeout = T(10) if timeout is None else timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(path)
        self.buf = b""
        self.eof = False
        self.reset = False
        self.local_addr = "@"


def test_ipv6_server_and_remote_addr_in_brackets(rr, events):
    port = harness.free_port()
    srv = rr(servers={"v6": {"addr": "[::1]:%d" % port}})
    sock = socket.create_connection(("::1", port), T(10))
    ip, cport = sock.getsockname()[:2]
    c = Client.__new__(Client)
    c.sock, c.buf, c.eof, c.reset, c.timeout = sock, b"", False, False, T(10)
    c.local_addr = "[%s]:%d" % (ip, cport)
    uuid = harness.connected_uuid(events, c.local_addr)
    ctx = json.loads(c.ask("CTX"))
    assert ctx["remote_addr"] == "[::1]:%d" % cport
    assert ctx["uuid"] == uuid and ctx["server"] == "v6"
    assert srv.find(msg="listening", addr="[::1]:%d" % port)


def test_localhost_binds_every_address_it_names(rr):
    # Q10: RoadRunner binds [::1] only for localhost:port; rrtcp binds
    # every address getaddrinfo gives for the name.
    port = harness.free_port()
    srv = rr(servers={"local": {"addr": "localhost:%d" % port}})
    addrs = {ai[4][0] for ai in socket.getaddrinfo(
        "localhost", port, 0, socket.SOCK_STREAM)}
    assert addrs
    for ip in addrs:
        text = "[%s]:%d" % (ip, port) if ":" in ip else "%s:%d" % (ip, port)
        assert srv.find(msg="listening", addr=text), text
        c = Client(port, host=ip)
        assert c.ask("ECHO " + ip) == ip


def test_unix_socket_server_and_at_sign_remote_addr(rr, events, tmp_path):
    path = tmp_path / "rr.sock"
    # A stale socket file is removed first (RR); other files are kept
    # and fail the start (test_listeners.py).
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()
    srv = rr(servers={"sock": {"addr": "unix://%s" % path}})
    c = Unix(str(path))
    ctx = json.loads(c.ask("CTX"))
    assert ctx["remote_addr"] == "@"
    assert ctx["server"] == "sock"
    assert c.ask("ECHO over unix") == "over unix"
    c.close()
    events.wait_close(ctx["uuid"])
    assert srv.find(msg="listening", server="sock")
