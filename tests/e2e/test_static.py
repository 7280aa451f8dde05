"""
test_static.py - the static build (make static) in a root with nothing else.

The static rrtcp, the static C echo worker and a .rr.yaml are copied into
an empty directory, and rrtcp is started there through unshare(1): a user
and a mount namespace with that directory as its root, so no host file
(no libc, no /bin/sh, no /proc, no /dev) is visible to it or its workers.
The test connects to it over loopback TCP and checks the echoes.

The module fixture runs tools/static-deps.sh and static.mk itself.  The
tests are skipped only when this machine cannot provide the build's
inputs (no musl-gcc or Debian sources and not root) or cannot enter a
new root; a failing compile or link fails them.

`rrtcp -v` of the normal build (RRTCP_BIN) is checked here as well: it
names glibc and the libyaml and cJSON it was built against.
"""

import os
import re
import shutil
import signal
import subprocess

import pytest

import harness
from harness import Client, T

SDIR = os.path.join(harness.REPO, "build-static")
STATIC_BIN = os.path.join(SDIR, "rrtcp")
STATIC_WORKER = os.path.join(SDIR, "echo_worker")
MAX_SIZE = 1024 * 1024


def run(args, timeout=60, **kw):
    return subprocess.run(args, capture_output=True, text=True,
                          timeout=T(timeout), **kw)


def tail(p):
    return "\n".join((p.stdout + p.stderr).strip().splitlines()[-15:])


@pytest.fixture(scope="module")
def static_build():
    deps = run([os.path.join(harness.REPO, "tools", "static-deps.sh"),
                os.path.join(SDIR, "src")], timeout=600)
    if deps.returncode != 0:
        pytest.skip("make static cannot get its inputs on this machine:\n"
                    + tail(deps))
    build = run(["make", "-s", "-f", "static.mk"], timeout=600,
                cwd=harness.REPO)
    assert build.returncode == 0, "static.mk failed:\n" + tail(build)
    return STATIC_BIN


def enter_root(root):
    """argv prefix that runs a command with root as /, or skips.

    Probed with a command that does not exist, so that only unshare's own
    failures (no user namespaces, no chroot) skip: a working unshare gets
    as far as exec and reports the missing file."""
    tries = [["unshare", "--user", "--map-root-user", "--mount"]]
    if os.geteuid() == 0:
        tries.append(["unshare", "--mount"])    # chroot as real root
    why = []
    for t in tries:
        argv = t + ["--root", str(root), "--wd", "/"]
        p = run(argv + ["/no-such-command"], timeout=10,
                env=dict(os.environ, LC_ALL="C"))
        if "failed to execute /no-such-command" in p.stderr:
            return argv
        why.append("%s: %s" % (" ".join(t), tail(p)))
    pytest.skip("cannot enter an empty root here:\n" + "\n".join(why))


@pytest.fixture
def empty_root(static_build, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy2(STATIC_BIN, root / "rrtcp")
    shutil.copy2(STATIC_WORKER, root / "echo_worker")
    return root


def source_version(name):
    """Upstream version of an unpacked Debian source (cjson-1.7.15/)."""
    dirs = [d for d in os.listdir(os.path.join(SDIR, "src"))
            if d.startswith(name + "-") and
            os.path.isdir(os.path.join(SDIR, "src", d))]
    assert len(dirs) == 1, dirs
    return dirs[0][len(name) + 1:]


def test_static_binaries_are_static_stripped_and_small(static_build):
    for path in (STATIC_BIN, STATIC_WORKER):
        f = run(["file", "-b", path], timeout=10).stdout
        assert "statically linked" in f, f
        assert "stripped" in f and "not stripped" not in f, f
        ldd = run(["ldd", path], timeout=10)
        assert ldd.returncode != 0, ldd.stdout
        assert "not a dynamic executable" in ldd.stdout + ldd.stderr, ldd
    size = os.path.getsize(STATIC_BIN)
    assert size < MAX_SIZE, "static rrtcp is %d bytes" % size


def test_static_version_says_static_musl_in_empty_root(empty_root):
    argv = enter_root(empty_root)
    p = run(argv + ["/rrtcp", "-v"], timeout=10)
    assert p.returncode == 0, tail(p)
    m = re.fullmatch(r"rrtcp version \S+ \(epoll, goridge v1; (.*)\)\n",
                     p.stdout)
    assert m, p.stdout
    info = m.group(1)
    assert info.startswith("static, musl"), info
    assert "libyaml %s," % source_version("libyaml") in info, info
    assert info.endswith("cJSON %s" % source_version("cjson")), info


def test_normal_version_names_glibc_and_libraries():
    p = run([harness.rrtcp_bin(), "-v"], timeout=10)
    assert p.returncode == 0, tail(p)
    glibc = os.confstr("CS_GNU_LIBC_VERSION")       # "glibc 2.36"
    yaml = run(["pkg-config", "--modversion", "yaml-0.1"]).stdout.strip()
    cjson = run(["pkg-config", "--modversion", "libcjson"]).stdout.strip()
    assert yaml and cjson, "pkg-config knows no libyaml or libcjson"
    assert ("(epoll, goridge v1; dynamic, %s, libyaml %s, cJSON %s)\n"
            % (glibc, yaml, cjson)) in p.stdout, p.stdout


@pytest.mark.deadline(40)
def test_serves_tcp_in_empty_root(empty_root, monkeypatch):
    argv = enter_root(empty_root)
    port = harness.free_port()
    # No shell inside: the command is the worker's own path, split on
    # blanks by rrtcp; -g makes it greet each connection.
    (empty_root / ".rr.yaml").write_text(harness.make_config(
        {"main": {"addr": "127.0.0.1:%d" % port, "delimiter": "\n"}},
        command="/echo_worker -g", pool={"num_workers": 2}))
    assert sorted(os.listdir(empty_root)) == [".rr.yaml", "echo_worker",
                                              "rrtcp"]
    # harness.Rrtcp runs rrtcp_bin() + args; here that is unshare + argv.
    monkeypatch.setattr(harness, "rrtcp_bin", lambda: argv[0])
    srv = harness.Rrtcp(argv[1:] + ["/rrtcp", "serve", "-c", "/.rr.yaml"])
    try:
        srv.wait_ready()
        # unshare execs rrtcp in place: its pid is rrtcp's, and the
        # kernel says its root (and its workers') is the empty directory.
        assert os.readlink("/proc/%d/root" % srv.proc.pid) == str(empty_root)
        workers = srv.worker_pids()
        assert len(workers) == 2, srv.dump()
        for pid in workers:
            assert os.readlink("/proc/%d/root" % pid) == str(empty_root)

        clients = [Client(port) for _ in range(3)]
        for c in clients:
            assert c.line() == b"220 echo_worker ready\r\n"
        for i, c in enumerate(clients):
            for n in range(5):
                msg = ("client %d line %d" % (i, n)).encode()
                c.send(msg + b"\n")
                assert c.recv_until(b"\n") == msg + b"\n"
        for c in clients:
            c.close()

        srv.signal(signal.SIGTERM)
        assert srv.wait_exit() == 0, srv.dump()
        srv.wait_log(msg="stopped", code="0")
        for pid in workers:
            harness.wait_until(lambda: not harness.pid_alive(pid, None),
                               T(5), what="worker %d to exit" % pid)
    finally:
        srv.cleanup()
