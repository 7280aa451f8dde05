"""An idle pool that keeps replacing its workers (supervisor ttl, SIGUSR2
resets) with no client traffic in between: the retired workers must leave
the idle queue at once, their pipes must close, and the fresh workers must
all be leasable.  Regression for "an idle pool can die while every worker
is alive" (the queue filled with dead entries, descriptors leaked, and
clients were closed with "no free worker")."""

import signal
import threading
import time

import pytest

import harness
from harness import Client, T, wait_until

OPS = harness.php_command("ops_worker.php")
WORKERS = 2


def settled_fds(srv, limit):
    """Waits until the server holds at most limit descriptors: between
    retirements only the steady workers' pipes are open."""
    pid = srv.proc.pid
    seen = []

    def low():
        seen.append(harness.open_fds(pid))
        return seen[-1] <= limit
    try:
        wait_until(low, T(8), interval=0.02, what="descriptors back")
    except AssertionError:
        raise AssertionError("rrtcp holds %r descriptors, %d at start\n%s"
                             % (seen[-5:], limit, srv.dump()))


def burst(srv, clients):
    """clients connections at once, each asks one thing; all answered."""
    answers, errors = {}, []

    def one(i):
        try:
            c = Client(srv.port, timeout=T(10))
            answers[i] = c.ask("ECHO burst%d" % i)
            c.close()
        except Exception as e:      # reported below, with the log
            errors.append("%d: %r" % (i, e))
    threads = [threading.Thread(target=one, args=(i,)) for i in
               range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(T(20))
    assert not errors, "%r\n%s" % (errors, srv.dump())
    assert answers == {i: "burst%d" % i for i in range(clients)}, answers
    assert not srv.find(msg="no free worker"), srv.dump()
    assert not [line for line in srv.lines if "no free worker" in line], \
        srv.dump()


@pytest.mark.deadline(60)
def test_ttl_churn_on_a_quiet_server_keeps_descriptors_and_serves(rr):
    srv = rr(command=OPS, pool={
        "num_workers": WORKERS,
        "supervisor": {"watch_tick": "100ms", "ttl": "1s"}},
        extra="logs:\n  level: debug\n")
    start = harness.open_fds(srv.proc.pid)
    first = set(srv.worker_pids())
    time.sleep(T(6))        # nobody connects: ~5 generations retire
    retired = srv.find(msg="worker retired", state="ttlReached")
    assert len(retired) >= 3 * WORKERS, "only %d ttl retirements\n%s" % (
        len(retired), srv.dump())
    assert not set(srv.worker_pids()[-WORKERS:]) & first
    # Worker structs are recycled: live, stopping and just-freed ones, not
    # one more per generation (reactors asleep must not hold them back).
    structs = len(srv.find(msg="worker struct allocated"))
    assert structs <= 3 * WORKERS + 2, "%d worker structs for %d workers " \
        "after %d retirements" % (structs, WORKERS, len(retired))
    settled_fds(srv, start)
    burst(srv, 4 * WORKERS)


@pytest.mark.deadline(60)
def test_many_resets_with_no_traffic_keep_descriptors_and_serve(rr):
    srv = rr(command=OPS, pool={"num_workers": WORKERS})
    start = harness.open_fds(srv.proc.pid)
    for i in range(15):
        mark = srv.mark()
        srv.signal(signal.SIGUSR2)
        wait_until(lambda: len(srv.worker_pids(mark)) >= WORKERS, T(10),
                   what="reset %d: %d new workers" % (i, WORKERS))
    settled_fds(srv, start)
    burst(srv, 4 * WORKERS)
