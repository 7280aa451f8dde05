"""Workers that fail to start (rrtcp-protocol(7) 3.2, 1.5; checklist 2, 30)."""

import re

import harness
from harness import T, pid_alive


def _worker_ids(srv):
    return {int(r["worker"]) for r in srv.records
            if r.get("worker", "").isdigit()}


def test_worker_never_answers_handshake(rr):
    srv = rr(command=harness.php_command("nohandshake.php"), ready=False,
             pool={"num_workers": 1, "allocate_timeout": "2s"})
    rc = srv.wait_exit(T(20))
    assert rc != 0
    assert not srv.find(msg="ready")
    assert re.search(r"(?i)timeout|timed out|deadline", srv.log_text()), srv.dump()
    for pid in _worker_ids(srv):
        assert not pid_alive(pid), "worker %d left behind" % pid


def test_worker_script_missing(rr, tmp_path):
    srv = rr(command="php " + str(tmp_path / "no-such-worker.php"), ready=False,
             pool={"num_workers": 1, "allocate_timeout": "5s"})
    rc = srv.wait_exit(T(20))
    assert rc == 1
    assert not srv.find(msg="ready")
    assert "Could not open input file" in srv.log_text(), srv.dump()


def test_worker_garbage_before_create(rr):
    srv = rr(command=harness.php_command("garbage_boot.php"), ready=False,
             pool={"num_workers": 1, "allocate_timeout": "3s"})
    rc = srv.wait_exit(T(20))
    assert rc != 0
    assert not srv.find(msg="ready")
    bad = [r for r in srv.records if r.get("level") in ("warn", "error")
           and "worker" in r]
    assert bad, srv.dump()
    for pid in _worker_ids(srv):
        assert not pid_alive(pid), "worker %d left behind" % pid
