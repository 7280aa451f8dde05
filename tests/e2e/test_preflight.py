"""rrtcp check tries what serve will try (names resolve, addresses bind),
serve names the server's file:line when a listener fails, and a SIGHUP
reload runs the same checks as check: a config check rejects is never
applied (the "honest failures" issue)."""

import re
import signal
import socket
import time

import harness
from harness import Client, T


def server_line(text, name):
    """1-based line of the server's key in a make_config text."""
    for i, line in enumerate(text.splitlines(), 1):
        if line.strip() == name + ":":
            return i
    raise AssertionError("no server %s in\n%s" % (name, text))


def write_config(tmp_path, addr, name="main"):
    text = harness.make_config({name: {"addr": addr}})
    path = tmp_path / ".rr.yaml"
    path.write_text(text)
    return path, server_line(text, name)


def taken_port():
    """A socket of ours listening on 127.0.0.1, as another process would."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    return s, s.getsockname()[1]


def test_check_port_taken_by_another_process_names_file_line(spawn,
                                                             tmp_path):
    other, port = taken_port()
    try:
        path, line = write_config(tmp_path, "127.0.0.1:%d" % port)
        p = spawn(["check", "-c", str(path)])
        assert p.wait_exit() == 2, p.dump()
        hits = p.find_lines(r"^%s:%d: .*127\.0\.0\.1:%d.*in use" % (
            re.escape(str(path)), line, port))
        assert hits, p.dump()
        assert "(warning)" not in hits[0]
        assert not any("configuration OK" in l for l in p.stdout)
    finally:
        other.close()


def test_check_unresolvable_host_names_file_line(spawn, tmp_path):
    path, line = write_config(tmp_path, "nonexistent.invalid:1234")
    p = spawn(["check", "-c", str(path)])
    assert p.wait_exit() == 2, p.dump()
    assert p.find_lines(r"^%s:%d: .*nonexistent\.invalid:1234" % (
        re.escape(str(path)), line)), p.dump()


def test_check_a_free_address_is_ok_and_stays_free(spawn, tmp_path):
    port = harness.free_port()
    path, _ = write_config(tmp_path, "127.0.0.1:%d" % port)
    p = spawn(["check", "-c", str(path)])
    assert p.wait_exit() == 0, p.dump()
    assert p.stdout == ["configuration OK"]
    # The probe closed its socket: the port can be listened on again.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", port))
        s.listen(1)


def test_check_against_the_running_instance_is_a_warning(rr, spawn):
    srv = rr(args=["-p"])
    harness.wait_until(lambda: (srv.config.parent / ".pid").exists(), T(5),
                       what=".pid written")
    p = spawn(["check", "-c", str(srv.config)])
    assert p.wait_exit() == 0, p.dump()
    line = server_line(srv.config_text, "main")
    hits = p.find_lines(r"^%s:%d: .*127\.0\.0\.1:%d.*running rrtcp.*"
                        r"\(warning\)$" % (re.escape(str(srv.config)), line,
                                           srv.port))
    assert hits, p.dump()
    assert p.stdout == ["configuration OK"]


def test_serve_on_a_taken_port_exits_naming_file_line(spawn, tmp_path):
    other, port = taken_port()
    try:
        path, line = write_config(tmp_path, "127.0.0.1:%d" % port)
        p = spawn(["serve", "-c", str(path)])
        assert p.wait_exit() != 0, p.dump()
        assert not p.find(msg="ready")
        recs = p.find(msg="startup failed", server="main")
        assert recs, p.dump()
        assert re.match(r"^%s:%d: .*127\.0\.0\.1:%d.*in use" % (
            re.escape(str(path)), line, port), recs[0]["reason"]), p.dump()
    finally:
        other.close()


def test_serve_on_an_unresolvable_host_exits_naming_file_line(spawn,
                                                              tmp_path):
    path, line = write_config(tmp_path, "nonexistent.invalid:1234")
    p = spawn(["serve", "-c", str(path)])
    assert p.wait_exit() != 0, p.dump()
    recs = p.find(msg="startup failed", server="main")
    assert recs and recs[0]["reason"].startswith(
        "%s:%d: " % (path, line)), p.dump()


def test_reload_with_a_missing_worker_command_is_refused(rr, tmp_path):
    srv = rr(pool={"num_workers": 2})
    old = set(srv.worker_pids())
    c = Client(srv.port)
    assert c.ask("ECHO before") == "before"
    missing = str(tmp_path / "no-such-php")
    mark = srv.mark()
    srv.config.write_text(srv.config_text.replace(
        harness.php_command("worker.php"), missing + " worker.php"))
    srv.signal(signal.SIGHUP)
    rec = srv.wait_log(start=mark,
                       msg="reload refused, keeping the running "
                           "configuration")
    assert "worker command not found: " + missing in rec["reason"], rec
    # The old workers keep serving, on the old connection and a new one.
    time.sleep(T(3))
    assert not srv.find(mark, msg="configuration reloaded"), srv.dump()
    assert not srv.find(mark, msg=re.compile("worker started")), srv.dump()
    assert c.ask("ECHO after") == "after"
    c2 = Client(srv.port)
    assert c2.ask("ECHO new") == "new"
    assert all(harness.pid_alive(pid) for pid in old)
