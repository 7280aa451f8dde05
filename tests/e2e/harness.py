"""
harness.py - helpers for the rrtcp end-to-end tests.

Starts the real rrtcp binary on fresh ports with real php workers from
tests/e2e/php/, reads its logfmt log, drives TCP clients, and reads the
events log the test workers append to (one JSON object per line).

Only the Python standard library.  Every wait has a deadline scaled by
RRTCP_TEST_TIMEOUT_MULTIPLIER.
"""

import base64
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PHP_DIR = os.path.join(HERE, "php")

MULT = float(os.environ.get("RRTCP_TEST_TIMEOUT_MULTIPLIER", "1") or "1")

UUID_V4 = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def T(seconds):
    """A timeout scaled for slow (sanitizer) builds."""
    return seconds * MULT


def rrtcp_bin():
    return os.environ.get("RRTCP_BIN") or os.path.join(REPO, "build", "rrtcp")


def rss_kib(pid):
    """VmRSS of a process, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def open_fds(pid):
    """How many descriptors a process holds."""
    return len(os.listdir("/proc/%d/fd" % pid))


def sanitized():
    """Is the binary under test built with a sanitizer?  Its RSS then holds
    shadow memory and a quarantine of freed blocks, so RSS bounds do not
    apply."""
    with open(rrtcp_bin(), "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


def php_script(name):
    return os.path.join(PHP_DIR, name)


def php_command(name):
    return "php " + php_script(name)


def free_port():
    """A port nothing listens on right now (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Polls pred() until it returns something truthy; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


def pid_alive(pid, marker=PHP_DIR):
    """True if pid exists, is not a zombie and (when marker is set) its
    command line mentions marker, so a recycled pid does not count."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat[stat.rfind(")") + 2:].split()[0]
    if state in ("Z", "X"):
        return False
    return marker is None or marker in cmdline


# --- YAML -------------------------------------------------------------------

def yq(s):
    """A YAML double-quoted scalar."""
    out = []
    for ch in str(s):
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _yaml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Raw):
        return v.text
    return yq(v)


class Raw:
    """A scalar written to the YAML as is (bare numbers, odd values)."""

    def __init__(self, text):
        self.text = text


def to_yaml(obj, indent=0):
    pad = "  " * indent
    lines = []
    for k, v in obj.items():
        if isinstance(v, dict):
            if v:
                lines.append("%s%s:" % (pad, k))
                lines.append(to_yaml(v, indent + 1))
            else:
                lines.append("%s%s: {}" % (pad, k))
        elif isinstance(v, list):
            lines.append("%s%s:" % (pad, k))
            for item in v:
                lines.append("%s  - %s" % (pad, _yaml_value(item)))
        else:
            lines.append("%s%s: %s" % (pad, k, _yaml_value(v)))
    return "\n".join(lines)


def make_config(servers, command=None, pool=None, tcp_extra=None,
                server_env=None, rpc_listen=None, extra=None):
    """servers: {name: {"addr": ..., "delimiter": ..., ...}}."""
    cfg = {"version": "3"}
    srv = {"command": command or php_command("worker.php")}
    if server_env:
        srv["env"] = dict(server_env)
    cfg["server"] = srv
    if rpc_listen:
        cfg["rpc"] = {"listen": rpc_listen}
    p = {"num_workers": 2, "allocate_timeout": "10s", "destroy_timeout": "5s"}
    p.update(pool or {})
    tcp = {"servers": servers, "pool": p}
    tcp.update(tcp_extra or {})
    cfg["tcp"] = tcp
    text = to_yaml(cfg) + "\n"
    if extra:
        text += extra
    return text


# --- logfmt -----------------------------------------------------------------

_PAIR = re.compile(r'([A-Za-z_][\w.\-]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)')


def parse_logfmt(line):
    rec = {}
    for k, v in _PAIR.findall(line):
        if v.startswith('"'):
            try:
                v = json.loads(v)
            except ValueError:
                v = v[1:-1]
        rec[k] = v
    return rec


def rec_matches(rec, crit):
    for k, want in crit.items():
        if k not in rec:
            return False
        got = rec[k]
        if isinstance(want, re.Pattern):
            if not want.search(got):
                return False
        elif callable(want):
            if not want(got):
                return False
        elif str(want) != got:
            return False
    return True


# --- the server process -------------------------------------------------------

class Rrtcp:
    """One rrtcp process; its stderr is parsed line by line as it comes."""

    def __init__(self, args, env=None, cwd=None):
        self.args = [rrtcp_bin()] + list(args)
        self.lines = []         # raw stderr lines (str, no newline)
        self.records = []       # parsed logfmt, same index as lines
        self.stdout = []
        self.cond = threading.Condition()
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=self.env, cwd=cwd,
            start_new_session=True)
        self.readers = [
            threading.Thread(target=self._pump, args=(self.proc.stderr, True),
                             daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stdout, False),
                             daemon=True),
        ]
        for t in self.readers:
            t.start()

    def _pump(self, fp, is_err):
        for raw in iter(fp.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                if is_err:
                    self.lines.append(line)
                    self.records.append(parse_logfmt(line))
                else:
                    self.stdout.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    # log access

    def log_text(self):
        with self.cond:
            return "\n".join(self.lines)

    def dump(self, limit=400):
        with self.cond:
            lines = self.lines[-limit:]
        return "---- rrtcp log (%s) ----\n%s\n---- end ----" % (
            " ".join(self.args), "\n".join(lines))

    def find(self, start=0, **crit):
        with self.cond:
            return [r for r in self.records[start:] if rec_matches(r, crit)]

    def find_lines(self, pattern):
        rx = re.compile(pattern)
        with self.cond:
            return [l for l in self.lines if rx.search(l)]

    def mark(self):
        """Index to pass as start= so that only later lines are searched."""
        with self.cond:
            return len(self.records)

    def wait_log(self, timeout=None, start=0, **crit):
        """Waits for a log record matching every key of crit; returns it."""
        timeout = T(10) if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for r in self.records[start:]:
                    if rec_matches(r, crit):
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 0.2))
        raise AssertionError("no log line matching %r within %.1fs\n%s"
                             % (crit, timeout, self.dump()))

    def wait_ready(self, timeout=None):
        timeout = T(20) if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if any(r.get("msg") == "ready" for r in self.records):
                    return
                if self.proc.poll() is not None:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 0.2))
        raise AssertionError("rrtcp did not become ready (exit status %r)\n%s"
                             % (self.proc.poll(), self.dump()))

    def worker_pids(self, start=0):
        """pids from `worker started` lines, in order."""
        return [int(r["worker"]) for r in
                self.find(start, msg=re.compile(r"worker started"))
                if r.get("worker", "").isdigit()]

    def exited_pids(self, start=0):
        return [int(r["worker"]) for r in
                self.find(start, msg=re.compile(r"worker exited"))
                if r.get("worker", "").isdigit()]

    # process control

    def wait_exit(self, timeout=None):
        timeout = T(15) if timeout is None else timeout
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("rrtcp still running after %.1fs\n%s"
                                 % (timeout, self.dump()))
        for t in self.readers:
            t.join(T(5))
        return rc

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def cleanup(self):
        """Stops the server if a test left it running, then kills any worker
        it started that outlived it (only pids rrtcp reported, only if their
        command line still names a test worker)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(T(8))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(T(5))
        for t in self.readers:
            t.join(T(2))
        for pid in set(self.worker_pids()):
            if pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.proc.stdout.close()
        self.proc.stderr.close()


# --- clients -------------------------------------------------------------------

class Client:
    def __init__(self, port, host="127.0.0.1", timeout=None, nodelay=False):
        self.timeout = T(10) if timeout is None else timeout
        self.sock = socket.create_connection((host, port), self.timeout)
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False
        self.reset = False
        ip, port = self.sock.getsockname()[:2]
        self.local_addr = "%s:%d" % (ip, port)

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            self.reset = True
            chunk = b""
        if not chunk:
            self.eof = True
        self.buf += chunk
        return chunk

    def recv_until(self, marker, timeout=None):
        """Bytes up to and including marker; fails on EOF or timeout."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            if self.eof:
                raise AssertionError("EOF before %r; got %r" % (marker, self.buf))
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for %r; got %r"
                                     % (marker, self.buf))
            try:
                self._fill(left)
            except socket.timeout:
                pass
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def line(self, timeout=None):
        return self.recv_until(b"\r\n", timeout)

    def ask(self, cmd, timeout=None):
        """Sends cmd + CRLF and returns the reply line without CRLF."""
        self.send(cmd.encode() + b"\r\n")
        return self.line(timeout)[:-2].decode()

    def read_to_eof(self, timeout=None):
        """Everything until EOF (or RST); fails if EOF does not come."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no EOF within %.1fs; got %r"
                                     % (timeout, self.buf))
            try:
                self._fill(left)
            except socket.timeout:
                pass
        out, self.buf = self.buf, b""
        return out

    def expect_silence(self, seconds):
        """Asserts that nothing (neither data nor EOF) arrives for seconds."""
        self.sock.settimeout(seconds)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return
        raise AssertionError("expected silence, got %r (buffered %r)"
                             % (chunk, self.buf))

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --- the events log written by php/worker.php ------------------------------------

class Events:
    """JSON lines: {"pid","event","uuid","server","remote_addr","body"(b64),"ctx"}."""

    def __init__(self, path):
        self.path = str(path)

    def all(self):
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        out = []
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            e = json.loads(raw)
            if "body" in e:
                e["body"] = base64.b64decode(e["body"])
            out.append(e)
        return out

    def of(self, uuid):
        return [e for e in self.all() if e.get("uuid") == uuid]

    def wait(self, pred, timeout=None, what="events"):
        """Polls until pred(all_events) is truthy; returns the event list."""
        timeout = T(10) if timeout is None else timeout
        box = []

        def check():
            evs = self.all()
            if pred(evs):
                box.append(evs)
                return True
            return False
        try:
            wait_until(check, timeout, what=what)
        except AssertionError:
            raise AssertionError("timed out waiting for %s; events so far:\n%s"
                                 % (what, "\n".join(map(repr, self.all()))))
        return box[0]

    def wait_close(self, uuid, timeout=None):
        """Waits for the CLOSE event of uuid; returns that connection's events."""
        evs = self.wait(lambda evs: any(e.get("uuid") == uuid and
                                        e.get("event") == "CLOSE" for e in evs),
                        timeout, what="CLOSE event for %s" % uuid)
        return [e for e in evs if e.get("uuid") == uuid]


def kinds(events):
    return [e["event"] for e in events]


def connected_uuid(events, remote_addr, timeout=None):
    """uuid of the connection whose CONNECTED came from remote_addr."""
    evs = events.wait(lambda evs: any(
        e["event"] == "CONNECTED" and e["remote_addr"] == remote_addr
        for e in evs), timeout, what="CONNECTED from %s" % remote_addr)
    return [e for e in evs if e["event"] == "CONNECTED"
            and e["remote_addr"] == remote_addr][0]["uuid"]
