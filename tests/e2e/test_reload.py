"""SIGHUP replaces the workers by a rolling reload: capacity never drops."""

import signal

import harness
from harness import Client, T


def test_reload_is_rolling_each_new_worker_retires_one_old(rr):
    srv = rr(pool={"num_workers": 3})
    old = set(srv.worker_pids())
    assert len(old) == 3
    c = Client(srv.port)
    assert c.ask("ECHO before") == "before"
    mark = srv.mark()
    srv.config.write_text(srv.config_text)      # same config, new workers
    srv.signal(signal.SIGHUP)
    srv.wait_log(start=mark, msg="configuration reloaded")
    for _ in range(3):
        srv.wait_log(start=mark, msg="worker retired",
                     reason="replaced by a reload", timeout=T(15))
    harness.wait_until(lambda: len(srv.find(
        mark, msg="worker retired", reason="replaced by a reload")) == 3,
        T(15), what="three old workers retired")
    # Walk the log: an old worker is retired only after a new one started,
    # so at no point are fewer than 3 workers ready.
    started = retired = 0
    for r in srv.find(mark):
        if r.get("msg") == "worker started":
            assert int(r["worker"]) not in old
            started += 1
        elif r.get("msg") == "worker retired":
            assert int(r["worker"]) in old
            retired += 1
            assert retired <= started, "an old worker went before its successor"
    assert started == 3 and retired == 3
    assert c.ask("ECHO after") == "after"
