"""RPC limits (rrtcp.yaml(5) RPC; RoadRunner has none): rpc.max_frame_size
refuses an oversized request from its header, rpc.read_timeout closes a peer
that leaves a frame unfinished, rpc.max_connections closes peers over the
cap as they are accepted; meanwhile a good client is still served and the
server's memory stays small."""

import re
import socket
import struct
import time
import zlib

import harness
from harness import T
import rpc_client as rpc
from rpc_client import RawRpc

MIB = 1 << 20
PEERS = 40
OVER = "request frame over rpc.max_frame_size"
STALLED = "request frame not complete within rpc.read_timeout"


def start(rr, **limits):
    port = harness.free_port()
    extra = "rpc:\n  listen: %s\n" % rpc.rpc_addr(port)
    for k, v in limits.items():
        extra += "  %s: %s\n" % (k, v)
    srv = rr(pool={"num_workers": 1}, extra=extra)
    srv.rpc_port = port
    srv.rpc_addr = rpc.rpc_addr(port)
    srv.wait_log(msg="rpc listening")
    return srv


def good_call(port):
    """A call from a well-behaved client, on a fresh connection."""
    assert rpc.json_call(port, "resetter.List", True) == ["tcp"]


def header_only(seq, plen, method=b"tcp.Close"):
    """The header of a JSON request announcing plen bytes of payload, then
    the method name only."""
    head = bytes([0x15, rpc.FLAG_JSON]) + struct.pack("<I", plen)
    crc = zlib.crc32(head) & 0xFFFFFFFF
    return (head + struct.pack("<I", crc) + b"\x00\x00" +
            struct.pack("<II", seq, len(method)) + method)


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), T(10))
    s.settimeout(T(10))
    return s


def read_to_close(s, timeout):
    """Reads until EOF or reset; returns (bytes, seconds it took)."""
    t0 = time.monotonic()
    s.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        except socket.timeout:
            raise AssertionError("peer still open after %.1fs" % timeout)
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - t0


def closes(srv, reason, start=0):
    return srv.find(start, msg="rpc connection closed", reason=reason)


def test_oversized_frames_cost_no_memory_and_get_an_error(rr):
    """40 peers announce 10 MiB and send 1 MiB of it: with the default
    1 MiB cap each gets an error reply at once and nothing is kept; they
    are closed after read_timeout since they neither finish nor close."""
    srv = start(rr, read_timeout="2s")
    good_call(srv.rpc_port)
    before = harness.rss_kib(srv.proc.pid)
    mark = srv.mark()
    peers = []
    for i in range(PEERS):
        s = connect(srv.rpc_port)
        s.sendall(header_only(100 + i, 10 * MIB) + b"x" * MIB)
        peers.append(s)
    grown = harness.rss_kib(srv.proc.pid) - before
    assert grown < 16 * 1024, "RSS grew by %d KiB for %d peers" % (
        grown, PEERS)
    good_call(srv.rpc_port)
    t0 = time.monotonic()
    for i, s in enumerate(peers):
        # The reply, then EOF: the server has shut its side and drops
        # what the peer still sends.
        data, took = read_to_close(s, T(10))
        r = rpc.Reply(data)
        assert r.is_error and r.seq == 100 + i and r.options[1] == 0, data
        assert r.body == (b"rpc: request of 10485760 bytes is over the "
                          b"server's rpc.max_frame_size of 1048576 bytes")
    # The peers keep their sockets open: the server ends each lingering
    # close after read_timeout.
    harness.wait_until(lambda: len(closes(srv, OVER, mark)) == PEERS, T(10),
                       what="%d close lines" % PEERS)
    assert time.monotonic() - t0 >= 1.5
    for s in peers:
        s.close()
    good_call(srv.rpc_port)


def test_stalled_partial_frames_are_closed_after_read_timeout(rr):
    """Frames under the cap but never finished are dropped after
    read_timeout; a connection idle between calls is not."""
    srv = start(rr, read_timeout="1s")
    idle = RawRpc(srv.rpc_port)
    assert not idle.call_json("resetter.List", True, seq=1).is_error
    mark = srv.mark()
    peers = []
    t0 = time.monotonic()
    for i in range(PEERS):
        s = connect(srv.rpc_port)
        s.sendall(header_only(i, 900 * 1024) + b"x" * (512 * 1024))
        peers.append(s)
    good_call(srv.rpc_port)
    for s in peers:
        data, _ = read_to_close(s, T(10))
        assert data == b"", "no reply to an unfinished frame"
        s.close()
    took = time.monotonic() - t0
    assert took >= 0.9, "closed after %.2fs, before read_timeout" % took
    harness.wait_until(lambda: len(closes(srv, STALLED, mark)) == PEERS,
                       T(10), what="%d close lines" % PEERS)
    # The idle connection outlived the timeout and still works.
    assert not idle.call_json("resetter.List", True, seq=2).is_error
    idle.close()
    good_call(srv.rpc_port)


def test_connections_over_the_cap_are_closed_at_once(rr):
    cap = 8
    srv = start(rr, max_connections=cap)
    held = [RawRpc(srv.rpc_port) for _ in range(cap)]
    for i, c in enumerate(held):
        assert not c.call_json("resetter.List", True, seq=i + 1).is_error
    mark = srv.mark()
    for _ in range(5):
        s = connect(srv.rpc_port)
        data, took = read_to_close(s, T(5))
        assert data == b"" and took < T(2), (data, took)
        s.close()
    lines = srv.find(mark, msg="rpc connection refused",
                     reason="over rpc.max_connections")
    # One line a second at most: 5 refusals in well under 2 s.
    assert 1 <= len(lines) <= 2, srv.dump()
    assert lines[0]["max_connections"] == str(cap)
    held.pop().close()
    held.pop().close()
    harness.wait_until(lambda: _try_call(srv.rpc_port), T(10),
                       what="a free RPC slot")
    for i, c in enumerate(held):
        assert not c.call_json("resetter.List", True, seq=50 + i).is_error
        c.close()


def _try_call(port):
    try:
        good_call(port)
        return True
    except (AssertionError, OSError):
        return False


def test_php_client_sees_the_frame_cap_as_a_service_error(rr):
    srv = start(rr, max_frame_size="4KiB")
    res = rpc.php_call(srv.rpc_addr, "tcp.Close", "u" * 10000)
    assert res["ok"] is False, res
    assert res["class"] == "Spiral\\Goridge\\RPC\\Exception\\ServiceException"
    assert re.search(r"request of 10011 bytes is over the server's "
                     r"rpc\.max_frame_size of 4096 bytes", res["error"]), res
    srv.wait_log(msg="rpc connection closed", reason=OVER)
    good_call(srv.rpc_port)
