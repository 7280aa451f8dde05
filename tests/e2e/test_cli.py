"""Command line: -v, -o, -w, -p, default work dir."""

import os
import signal
import re
import socket
import subprocess

import pytest

import harness
from harness import Client, T, free_port


def test_version():
    p = subprocess.run([harness.rrtcp_bin(), "-v"], capture_output=True,
                       timeout=T(10))
    assert p.returncode == 0
    assert re.search(rb"\d+\.\d+", p.stdout + p.stderr), p


def test_listening_line_names_server_and_addr(rr):
    srv = rr(servers=["one", "two"])
    for name, port in srv.ports.items():
        srv.wait_log(msg="listening", server=name, addr="127.0.0.1:%d" % port)


def test_override_addr(rr):
    other = free_port()
    srv = rr(args=["-o", "tcp.servers.main.addr=127.0.0.1:%d" % other])
    srv.wait_log(msg="listening", server="main", addr="127.0.0.1:%d" % other)
    c = Client(other)
    assert c.ask("ECHO overridden") == "overridden"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", srv.port), T(2)).close()


def test_default_work_dir_is_config_dir(rr, tmp_path):
    srv = rr()
    c = Client(srv.port)
    assert os.path.realpath(c.ask("CWD")) == os.path.realpath(tmp_path)


def test_work_dir_option(rr, tmp_path):
    wd = tmp_path / "wd"
    wd.mkdir()
    srv = rr(args=["-w", str(wd)])
    c = Client(srv.port)
    assert os.path.realpath(c.ask("CWD")) == os.path.realpath(wd)


def test_pidfile(rr, tmp_path):
    # As `rr serve -p`: a .pid file in the work dir (the config's dir).
    srv = rr(args=["-p"])
    pidfile = srv.config.parent / ".pid"
    assert int(pidfile.read_text().strip()) == srv.proc.pid
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(T(15)) == 0
    assert not pidfile.exists(), "removed on a clean exit"


def test_usage_matches_the_man_page_synopsis():
    # STYLE 12: SYNOPSIS matches usage() exactly.
    run = subprocess.run([harness.rrtcp_bin()], capture_output=True,
                         text=True, timeout=T(10))
    assert run.returncode == 2
    usage = [l.strip() for l in run.stderr.splitlines() if l.strip()]
    usage[0] = usage[0][len("usage:"):].strip()
    man = os.path.join(os.path.dirname(__file__), "..", "..", "man",
                       "rrtcp.1")
    text = subprocess.run(["mandoc", "-Tascii", man], capture_output=True,
                          text=True, timeout=T(10)).stdout
    text = re.sub(r".\x08", "", text)
    synopsis = text.split("SYNOPSIS", 1)[1].split("DESCRIPTION", 1)[0]
    lines = [" ".join(l.split()) for l in synopsis.splitlines() if l.strip()]
    assert lines == [" ".join(l.split()) for l in usage]
