"""
rpc_client.py - RPC helpers for the rrtcp end-to-end tests (rrtcp-protocol(7) 5).

  RawRpc        a byte-level goridge RPC client (HL 5 frames, options
                [seq, len(method)]), for the JSON codec of PHP's RPC and the
                gob codec of the rr CLI; returns every reply field so tests
                can compare bytes.
  php_rpc()     runs php/rpc_client.php: the goridge PHP API
                (Spiral\\Goridge\\RPC\\RPC::create) from the conf/php fallback.
  gob_*         the gob encodings of rrtcp-protocol(7) 5.4 and a small decoder for
                the informer.Workers reply value.

Only the Python standard library.
"""

import json
import socket
import struct
import subprocess
import time
import zlib

import harness
from harness import T

FLAG_JSON = 0x08
FLAG_GOB = 0x20
FLAG_ERROR = 0x40


def rpc_addr(port):
    return "tcp://127.0.0.1:%d" % port


def port_of(addr):
    return int(addr.rsplit(":", 1)[1])


# --- frames --------------------------------------------------------------------

def encode_frame(flags, options, payload):
    hl = 3 + len(options)
    head = bytes([0x10 | hl, flags]) + struct.pack("<I", len(payload))
    crc = zlib.crc32(head) & 0xFFFFFFFF
    return (head + struct.pack("<I", crc) + b"\x00\x00" +
            b"".join(struct.pack("<I", o) for o in options) + payload)


def rpc_request(method, body, seq, flags=FLAG_JSON):
    m = method.encode()
    return encode_frame(flags, [seq, len(m)], m + body)


class Reply:
    def __init__(self, raw):
        self.raw = raw
        self.byte0 = raw[0]
        self.flags = raw[1]
        self.length = struct.unpack_from("<I", raw, 2)[0]
        self.crc = struct.unpack_from("<I", raw, 6)[0]
        hl = raw[0] & 0x0F
        self.options = [struct.unpack_from("<I", raw, 12 + 4 * i)[0]
                        for i in range(hl - 3)]
        self.payload = raw[4 * hl:]
        mlen = self.options[1] if len(self.options) == 2 else 0
        self.method = self.payload[:mlen]
        self.body = self.payload[mlen:]

    @property
    def seq(self):
        return self.options[0]

    @property
    def is_error(self):
        return bool(self.flags & FLAG_ERROR)

    def crc_ok(self):
        return zlib.crc32(self.raw[:6]) & 0xFFFFFFFF == self.crc

    def json(self):
        return json.loads(self.body)


class RawRpc:
    """One connection to the RPC listener."""

    def __init__(self, port, timeout=None):
        self.timeout = T(10) if timeout is None else timeout
        self.sock = socket.create_connection(("127.0.0.1", port), self.timeout)
        self.buf = b""

    def _read(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("RPC reply timed out; have %r" % self.buf)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise AssertionError("RPC connection closed; have %r"
                                     % self.buf)
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_reply(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None
                                       else timeout)
        head = self._read(12, deadline)
        hl = head[0] & 0x0F
        length = struct.unpack_from("<I", head, 2)[0]
        rest = self._read(4 * (hl - 3) + length, deadline)
        return Reply(head + rest)

    def send_raw(self, data):
        self.sock.sendall(data)

    def call(self, method, body, seq=1, flags=FLAG_JSON, timeout=None):
        self.send_raw(rpc_request(method, body, seq, flags))
        return self.read_reply(timeout)

    def call_json(self, method, arg, seq=1):
        return self.call(method, json.dumps(arg).encode(), seq, FLAG_JSON)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def json_call(port, method, arg):
    """One JSON call on a fresh connection; returns the decoded result or
    raises AssertionError on an error reply."""
    c = RawRpc(port)
    try:
        r = c.call_json(method, arg, seq=1)
    finally:
        c.close()
    assert not r.is_error, "%s(%r) failed: %r" % (method, arg, r.body)
    return r.json()


def workers(port, plugin="tcp"):
    return json_call(port, "informer.Workers", plugin)["workers"]


def worker_pids(port):
    return sorted(w["pid"] for w in workers(port))


def live_pids(port):
    """pids of workers that are in service (ready or working)."""
    return sorted(w["pid"] for w in workers(port)
                  if w["statusStr"] in ("ready", "working"))


def wait_pids_replaced(port, old, count, timeout=None, what="new workers"):
    """Waits until informer.Workers lists exactly count workers, none of
    them in old; returns their pids."""
    old = set(old)
    box = []

    def check():
        ws = workers(port)
        pids = [w["pid"] for w in ws]
        box[:] = [ws]
        return (len(pids) == count and not (set(pids) & old) and
                all(w["statusStr"] in ("ready", "working") for w in ws)
                and pids)
    try:
        return sorted(harness.wait_until(check, timeout or T(10),
                                         interval=0.1, what=what))
    except AssertionError:
        raise AssertionError("timed out waiting for %s (old %s); last "
                             "informer.Workers: %r" % (what, sorted(old),
                                                       box[0] if box else None))


# --- the PHP client ------------------------------------------------------------------

def php_rpc(addr, calls, timeout=None, expect_rc=0):
    """Runs php/rpc_client.php with calls [(method, arg), ...]; returns one
    dict per call (see the script)."""
    p = subprocess.run(
        ["php", harness.php_script("rpc_client.php"), addr,
         json.dumps([list(c) for c in calls])],
        capture_output=True, timeout=timeout or T(20))
    assert p.returncode == expect_rc, (
        "rpc_client.php exit %d\nstdout: %s\nstderr: %s"
        % (p.returncode, p.stdout.decode(errors="replace"),
           p.stderr.decode(errors="replace")))
    return [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]


def php_call(addr, method, arg):
    [r] = php_rpc(addr, [(method, arg)])
    return r


# --- gob (rrtcp-protocol(7) 5.4) -------------------------------------------------------------

GOB_TRUE = bytes.fromhex("03020001")


def gob_uint(v):
    if v < 0x80:
        return bytes([v])
    b = v.to_bytes((v.bit_length() + 7) // 8, "big")
    return bytes([256 - len(b)]) + b


def gob_string_value(s):
    """A top-level string as the CLI sends it: len, id 6 (0c), 00, string."""
    s = s.encode()
    msg = b"\x0c\x00" + gob_uint(len(s)) + s
    return gob_uint(len(msg)) + msg


STRINGS_TCP = bytes.fromhex("0cff81020102ff8200010c0000" "08ff82000103746370")
WORKERS_DEFS = bytes.fromhex(
    "25ff830301010a576f726b65724c69737401ff840001010107576f726b65727301"
    "ff88000000"
    "1fff87020101105b5d2a70726f636573732e537461746501ff880001ff860000"
    "71ff85030102ff860001080103506964010400010653746174757301040001084e75"
    "6d4578656373010600010743726561746564010400010b4d656d6f72795573616765"
    "010600010a43505550657263656e740108000107436f6d6d616e64010c0001095374"
    "61747573537472010c000000")
JOBS_EMPTY = bytes.fromhex(
    "0dff8b020102ff8c0001ff8a0000"
    "7aff89030102ff8a0001090108506970656c696e65010c000106447269766572010c"
    "0001055175657565010c000106416374697665010400010744656c61796564010400"
    "010852657365727665640104000105526561647901020001085072696f7269747901"
    "0600010c4572726f724d657373616765010c000000"
    "04ff8c0000")
STATE_FIELDS = ["Pid", "Status", "NumExecs", "Created", "MemoryUsage",
                "CPUPercent", "Command", "StatusStr"]


class GobReader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def done(self):
        return self.pos >= len(self.data)

    def byte(self):
        assert self.pos < len(self.data), "gob: truncated"
        b = self.data[self.pos]
        self.pos += 1
        return b

    def uint(self):
        b = self.byte()
        if b < 0x80:
            return b
        n = 256 - b
        assert 1 <= n <= 8, "gob: bad uint prefix %#x" % b
        v = 0
        for _ in range(n):
            v = v << 8 | self.byte()
        return v

    def int(self):
        u = self.uint()
        return ~(u >> 1) if u & 1 else u >> 1

    def float(self):
        # IEEE bits byte-reversed, sent as a uint.
        return struct.unpack(">d", self.uint().to_bytes(8, "little"))[0]

    def string(self):
        n = self.uint()
        s = self.data[self.pos:self.pos + n]
        assert len(s) == n, "gob: truncated string"
        self.pos += n
        return s.decode()


def gob_messages(data):
    """Splits a gob stream into (type id, body bytes) messages."""
    r = GobReader(data)
    out = []
    while not r.done():
        n = r.uint()
        start = r.pos
        tid = r.int()
        body = data[r.pos:start + n]
        assert start + n <= len(data), "gob: message overruns the stream"
        r.pos = start + n
        out.append((tid, body))
    return out


def gob_decode_state(r):
    """One process.State (struct 67): field deltas, 00 ends it."""
    st = {}
    idx = -1
    while True:
        delta = r.uint()
        if delta == 0:
            return st
        idx += delta
        assert 0 <= idx < len(STATE_FIELDS), "gob: field index %d" % idx
        name = STATE_FIELDS[idx]
        if name in ("Pid", "Status", "Created"):
            st[name] = r.int()
        elif name in ("NumExecs", "MemoryUsage"):
            st[name] = r.uint()
        elif name == "CPUPercent":
            st[name] = r.float()
        else:
            st[name] = r.string()


def gob_decode_worker_list(body):
    """The value message of WorkerList (id 66): [] of State dicts."""
    r = GobReader(body)
    states = []
    idx = -1
    while True:
        delta = r.uint()
        if delta == 0:
            break
        idx += delta
        assert idx == 0, "WorkerList has only field 0 (Workers), got %d" % idx
        for _ in range(r.uint()):
            states.append(gob_decode_state(r))
    assert r.done(), "trailing bytes in the WorkerList value: %r" % \
        body[r.pos:]
    return states
