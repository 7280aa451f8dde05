"""
conftest.py - fixtures for the rrtcp end-to-end tests.

  rr(...)        writes a config into a fresh tmp dir, starts `rrtcp serve`,
                 waits for `msg=ready`; the process is stopped at teardown.
  spawn(...)     starts rrtcp with raw arguments (config error tests).
  events         the events log the test workers append to.

Every test runs under a process deadline (SIGALRM), 30 s by default, or
@pytest.mark.deadline(N); both scaled by RRTCP_TEST_TIMEOUT_MULTIPLIER.
"""

import os
import re
import signal

import pytest

import harness
from harness import T


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "deadline(seconds): per-test wall-clock limit (scaled)")


class DeadlineExceeded(Exception):
    pass


@pytest.fixture(autouse=True)
def deadline(request):
    m = request.node.get_closest_marker("deadline")
    seconds = T(m.args[0] if m else 30)

    def on_alarm(signum, frame):
        raise DeadlineExceeded("test exceeded its %.0fs deadline" % seconds)
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="session", autouse=True)
def binary_exists():
    path = harness.rrtcp_bin()
    if not os.access(path, os.X_OK):
        pytest.exit("rrtcp binary not found at %s (set RRTCP_BIN)" % path, 2)
    return path


@pytest.fixture
def events(tmp_path):
    return harness.Events(tmp_path / "events.jsonl")


SANITIZER_REPORT = re.compile(
    r"(WARNING: ThreadSanitizer|ERROR: AddressSanitizer|"
    r"ERROR: LeakSanitizer|runtime error: )")


@pytest.fixture
def spawn(tmp_path):
    procs = []

    def start(args, env=None, cwd=None):
        base = {"EVENTS_LOG": str(tmp_path / "events.jsonl"),
                "STATE_DIR": str(tmp_path)}
        base.update(env or {})
        p = harness.Rrtcp(args, env=base, cwd=cwd)
        procs.append(p)
        return p
    yield start
    for p in procs:
        p.cleanup()
        print(p.dump())
    # Under SANITIZE builds a report anywhere in the server's output fails
    # the test that produced it, whatever the test itself checked.
    for p in procs:
        for line in p.lines:
            if SANITIZER_REPORT.search(line):
                pytest.fail("sanitizer report from rrtcp: %s" % line)


@pytest.fixture
def rr(tmp_path, spawn):
    """rr(servers=["main"] | {name: {...}}, pool={}, tcp_extra={},
    server_env={}, env={}, command=None, rpc_listen=None, extra=None,
    args=[], ready=True) -> Rrtcp with .ports {name: port}, .port,
    .config (path)."""

    def start(servers=("main",), pool=None, tcp_extra=None, server_env=None,
              env=None, command=None, rpc_listen=None, extra=None, args=(),
              ready=True, config_name=".rr.yaml"):
        if not isinstance(servers, dict):
            servers = {name: {} for name in servers}
        conf_servers, ports = {}, {}
        for name, opts in servers.items():
            opts = dict(opts)
            if "addr" not in opts:
                ports[name] = harness.free_port()
                opts["addr"] = "127.0.0.1:%d" % ports[name]
            conf_servers[name] = opts
        text = harness.make_config(conf_servers, command=command, pool=pool,
                                   tcp_extra=tcp_extra, server_env=server_env,
                                   rpc_listen=rpc_listen, extra=extra)
        path = tmp_path / config_name
        path.write_text(text)
        p = spawn(["serve", "-c", str(path)] + list(args), env=env)
        p.config = path
        p.config_text = text
        p.ports = ports
        p.port = next(iter(ports.values()), None)
        if ready:
            p.wait_ready()
        return p
    return start
