"""Operations: signals (SIGHUP reload, SIGUSR2 reset, SIGUSR1 log reopen)
and the CLI commands check, serve -t, workers [-i], reset, stop [-f]
(rrtcp-protocol(7) 3.10, 4.9, 5.3; quirk Q18; checklist 26-27)."""

import os
import re
import signal
import subprocess
import time

import pytest

import harness
from harness import Client, T, pid_alive, wait_until
import rpc_client as rpc

OPS = harness.php_command("ops_worker.php")
HEADER = re.compile(r"^\s*PID\s+STATUS\s+EXECS\s+MEMORY\s+CPU%\s+CREATED\s*$",
                    re.M)


def cli(*args, timeout=None, cwd=harness.HERE):
    """Runs `rrtcp args...` from a directory other than the config's."""
    return subprocess.run([harness.rrtcp_bin()] + list(args), cwd=cwd,
                          capture_output=True, text=True,
                          timeout=timeout or T(20))


def cli_bg(*args):
    return subprocess.Popen([harness.rrtcp_bin()] + list(args),
                            cwd=harness.HERE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc, timeout):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("%s did not finish within %.1fs: %r %r"
                             % (proc.args, timeout, out, err))
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def start(rr, num_workers=2, **kw):
    port = harness.free_port()
    kw.setdefault("command", OPS)
    srv = rr(pool={"num_workers": num_workers},
             rpc_listen=rpc.rpc_addr(port), **kw)
    srv.rpc_port = port
    return srv


def write_config(path, text):
    tmp = str(path) + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, str(path))


# --- SIGHUP -------------------------------------------------------------------------

def test_sighup_with_a_broken_config_keeps_the_old_one(rr):
    srv = start(rr)
    old = rpc.live_pids(srv.rpc_port)
    c = Client(srv.port)
    assert c.ask("ECHO before") == "before"
    bad = srv.config_text.replace("num_workers: 2", 'num_workers: "many"')
    assert bad != srv.config_text
    lineno = bad.splitlines().index('    num_workers: "many"') + 1
    write_config(srv.config, bad)
    mark = srv.mark()
    srv.signal(signal.SIGHUP)
    srv.wait_log(start=mark, level="error",
                 msg="reload failed, keeping the running configuration")
    where = "%s:%d:" % (srv.config, lineno)
    assert any(where in l and "num_workers" in l
               for l in srv.lines[mark:]), \
        "the file:line error is not in the log (%s)\n%s" % (where, srv.dump())
    assert not srv.find(mark, msg="configuration reloaded")
    assert not srv.find(mark, msg="resetting workers")
    # the old configuration keeps serving: same workers, new clients work
    assert c.ask("ECHO after") == "after"
    assert Client(srv.port).ask("ECHO new-client") == "new-client"
    time.sleep(T(0.3))
    assert rpc.live_pids(srv.rpc_port) == old
    assert srv.proc.poll() is None


@pytest.mark.deadline(40)
def test_sighup_applies_a_new_num_workers(rr):
    srv = start(rr, num_workers=2)
    old = rpc.live_pids(srv.rpc_port)
    assert len(old) == 2
    c = Client(srv.port)
    assert c.ask("ECHO before") == "before"
    write_config(srv.config, srv.config_text.replace("num_workers: 2",
                                                     "num_workers: 3"))
    mark = srv.mark()
    srv.signal(signal.SIGHUP)
    rec = srv.wait_log(start=mark, msg="configuration reloaded")
    assert rec.get("workers") == "3", rec
    new = rpc.wait_pids_replaced(srv.rpc_port, old, 3, T(15),
                                 what="3 new workers after SIGHUP")
    assert c.ask("ECHO after") == "after"
    assert int(c.ask("PID")) in new
    for p in old:
        wait_until(lambda: not pid_alive(p), T(12), what="old worker exits")


def test_sighup_with_relative_config_and_work_dir_paths(spawn, tmp_path):
    # rrtcp enters the work dir after reading the config: a reload must
    # still find the file and the work dir given relative to the start dir.
    (tmp_path / "conf").mkdir()
    (tmp_path / "wd").mkdir()
    port = harness.free_port()
    text = harness.make_config({"main": {"addr": "127.0.0.1:%d" % port}},
                               pool={"num_workers": 2})
    cfg = tmp_path / "conf" / ".rr.yaml"
    cfg.write_text(text)
    srv = spawn(["serve", "-c", "conf/.rr.yaml", "-w", "wd"], cwd=tmp_path)
    srv.wait_ready()
    old = set(srv.worker_pids())
    c = Client(port)
    wd = os.path.realpath(tmp_path / "wd")
    assert os.path.realpath(c.ask("CWD")) == wd
    write_config(cfg, text.replace("num_workers: 2", "num_workers: 3"))
    mark = srv.mark()
    srv.signal(signal.SIGHUP)
    rec = srv.wait_log(start=mark, msg=re.compile(
        r"^(configuration reloaded|reload failed.*)$"))
    assert rec["msg"] == "configuration reloaded", srv.dump()
    wait_until(lambda: len(set(srv.worker_pids(mark)) - old) >= 3, T(10),
               what="three new workers after SIGHUP")
    assert os.path.realpath(c.ask("CWD")) == wd
    assert os.path.realpath(Client(port).ask("CWD")) == wd


# --- SIGUSR2 ---------------------------------------------------------------------------

def test_sigusr2_resets_the_workers(rr):
    srv = rr(command=OPS, pool={"num_workers": 2})
    old = set(srv.worker_pids())
    c = Client(srv.port)
    assert c.ask("ECHO before") == "before"
    mark = srv.mark()
    srv.signal(signal.SIGUSR2)
    srv.wait_log(start=mark, msg="resetting workers")
    wait_until(lambda: len(set(srv.worker_pids(mark)) - old) >= 2, T(10),
               what="two new workers after SIGUSR2")
    for p in old:
        wait_until(lambda: not pid_alive(p), T(12), what="old worker exits")
    assert c.ask("ECHO after") == "after"
    assert int(c.ask("PID")) in set(srv.worker_pids(mark))


# --- SIGUSR1 ---------------------------------------------------------------------------

def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def test_sigusr1_reopens_the_log_file(rr, tmp_path):
    log = str(tmp_path / "rrtcp.log")
    srv = rr(pool={"num_workers": 1}, ready=False,
             extra='logs:\n  level: info\n  output: %s\n' % harness.yq(log))
    wait_until(lambda: "msg=ready" in read_text(log), T(20),
               what="msg=ready in %s" % log)
    os.rename(log, log + ".1")
    c = Client(srv.port)
    assert c.ask("SAY before-rotation") == "said"
    wait_until(lambda: "before-rotation" in read_text(log + ".1"), T(5),
               what="lines go to the renamed file until USR1")
    assert not os.path.exists(log)
    srv.signal(signal.SIGUSR1)
    wait_until(lambda: os.path.exists(log), T(5),
               what="a new log file at the original path")
    assert c.ask("SAY after-rotation") == "said"
    wait_until(lambda: "after-rotation" in read_text(log), T(5),
               what="new lines in the new file")
    assert "after-rotation" not in read_text(log + ".1")
    assert "msg=ready" not in read_text(log)
    assert not any("after-rotation" in l for l in srv.lines), \
        "log lines must not go to stderr with logs.output set"


# --- check / serve -t ----------------------------------------------------------------------

def config_file(tmp_path, name, **kw):
    text = harness.make_config({"main": {"addr": "127.0.0.1:%d" %
                                         harness.free_port()}}, **kw)
    path = tmp_path / name
    path.write_text(text)
    return path, text


def test_check_and_serve_t_accept_a_good_config(tmp_path):
    path, _ = config_file(tmp_path, "good.yaml")
    for args in (["check", "-c", str(path)], ["serve", "-t", "-c", str(path)]):
        p = cli(*args)
        assert p.returncode == 0, (args, p)
        assert p.stdout.strip() == "configuration OK", (args, p)


def test_check_and_serve_t_reject_a_broken_config(tmp_path):
    path, text = config_file(tmp_path, "bad.yaml")
    bad = text.replace("num_workers: 2", 'num_workers: "many"')
    path.write_text(bad)
    lineno = bad.splitlines().index('    num_workers: "many"') + 1
    for args in (["check", "-c", str(path)], ["serve", "-t", "-c", str(path)]):
        p = cli(*args)
        assert p.returncode == 2, (args, p)
        assert "configuration OK" not in p.stdout
        assert "%s:%d:" % (path, lineno) in p.stderr, (args, p.stderr)
        assert "num_workers" in p.stderr


def test_check_reports_a_missing_worker_command(tmp_path):
    for prog in ("/nonexistent/dir/php", "rrtcp-no-such-php-binary"):
        path, _ = config_file(tmp_path, "nocmd.yaml",
                              command=prog + " worker.php")
        for args in (["check", "-c", str(path)],
                     ["serve", "-t", "-c", str(path)]):
            p = cli(*args)
            assert p.returncode == 2, (args, p)
            assert "worker command not found" in p.stderr, (args, p.stderr)
            assert prog in p.stderr
            assert "configuration OK" not in p.stdout


# --- workers ------------------------------------------------------------------------------

def table_rows(text):
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0].isdigit():
            rows.append(parts)
    return rows


def test_cli_workers_lists_the_live_workers(rr):
    srv = start(rr, num_workers=2)
    assert Client(srv.port).ask("ECHO x") == "x"
    live = set(rpc.live_pids(srv.rpc_port))
    p = cli("workers", "-c", str(srv.config))
    assert p.returncode == 0, p
    assert len(HEADER.findall(p.stdout)) == 1, p.stdout
    rows = table_rows(p.stdout)
    assert {int(r[0]) for r in rows} == live, p.stdout
    assert len(rows) == 2
    for r in rows:
        assert r[1] in ("ready", "working"), p.stdout


@pytest.mark.deadline(30)
def test_cli_workers_interactive_refreshes(rr):
    srv = start(rr, num_workers=1)
    proc = subprocess.Popen([harness.rrtcp_bin(), "workers", "-i", "-c",
                             str(srv.config)], cwd=harness.HERE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        time.sleep(T(2.5))
        assert proc.poll() is None, "workers -i must keep running"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=T(5))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert len(HEADER.findall(out)) >= 2, (out, err)
    [pid] = srv.worker_pids()
    assert all(int(r[0]) == pid for r in table_rows(out)), out


# --- reset --------------------------------------------------------------------------------

def test_cli_reset_replaces_the_workers(rr):
    srv = start(rr, num_workers=2)
    old = rpc.live_pids(srv.rpc_port)
    c = Client(srv.port)
    assert c.ask("ECHO before") == "before"
    p = cli("reset", "-c", str(srv.config))
    assert p.returncode == 0, p
    assert p.stdout.strip(), "reset prints what it did"
    rpc.wait_pids_replaced(srv.rpc_port, old, 2, T(15))
    assert c.ask("ECHO after") == "after"


def test_cli_reset_without_rpc_listen_fails(tmp_path):
    path, _ = config_file(tmp_path, "norpc.yaml")
    p = cli("reset", "-c", str(path))
    assert p.returncode != 0, p
    assert "rpc.listen" in p.stderr, p.stderr
    p = cli("workers", "-c", str(path))
    assert p.returncode != 0, p
    assert "rpc.listen" in p.stderr, p.stderr


def test_cli_reset_with_nothing_listening_fails(tmp_path):
    # Q18: rr reset reports success whatever happens; rrtcp reset does not.
    port = harness.free_port()
    path, _ = config_file(tmp_path, "dead.yaml", rpc_listen=rpc.rpc_addr(port))
    p = cli("reset", "-c", str(path))
    assert p.returncode != 0, p
    assert p.stderr.strip(), "a message says why"
    assert str(port) in p.stderr or re.search(r"(?i)refused|connect",
                                              p.stderr), p.stderr


# --- stop ----------------------------------------------------------------------------------

def test_cli_stop_stops_a_server_started_with_p(rr):
    srv = rr(command=OPS, pool={"num_workers": 2}, args=["-p"])
    pidfile = srv.config.parent / ".pid"
    assert int(pidfile.read_text()) == srv.proc.pid
    workers = srv.worker_pids()
    c = Client(srv.port)
    assert c.ask("ECHO x") == "x"
    # the server is our child: it is reaped (wait_exit) while stop polls
    # its pid, as a shell or a service manager would do
    stop = cli_bg("stop", "-c", str(srv.config))
    assert srv.wait_exit(T(5)) == 0
    p = finish(stop, T(5))
    assert p.returncode == 0, p
    assert not pidfile.exists()
    assert c.read_to_eof(T(5)) == b""
    for w in workers:
        assert not pid_alive(w)


@pytest.mark.deadline(30)
def test_cli_stop_f_exits_at_once(rr, events):
    srv = rr(command=OPS, pool={"num_workers": 1, "destroy_timeout": "20s"},
             args=["-p"])
    [w] = srv.worker_pids()
    c = Client(srv.port)
    assert c.ask("ECHO x") == "x"
    c.send(b"SLEEP 30\r\n")
    u = harness.connected_uuid(events, c.local_addr)
    events.wait(lambda evs: any(e.get("uuid") == u and e["event"] == "DATA"
                                and e["body"].startswith(b"SLEEP")
                                for e in evs), what="the SLEEP event")
    t0 = time.monotonic()
    stop = cli_bg("stop", "-f", "-c", str(srv.config))
    rc = srv.wait_exit(T(3))
    assert time.monotonic() - t0 < T(3)
    p = finish(stop, T(5))
    assert p.returncode == 0, p
    assert rc == 1, "a second stop signal exits with status 1 (rrtcp(1))"
    wait_until(lambda: not pid_alive(w), T(3), what="the busy worker killed")
    assert c.read_to_eof(T(3)) == b""
