"""tcp.fence (rrtcp.yaml(5)): what rrtcp guarantees about a second answer
that a worker sends late.  goridge has no sequence numbers: with the
default (on_stray) a worker is fenced only after its first stray frame, so
that very first late answer can reach the next client, as in RoadRunner.
With `fence: always` every answer is followed by a pid round trip, and a
late answer is logged and dropped, never written to a client."""

import re
import time

import pytest

import harness
from harness import Client, T

LATE = harness.php_command("late_second.php")


def line(c):
    return c.line(T(5)).rstrip(b"\r\n").decode()


def run_pair(srv):
    a = Client(srv.port)
    b = Client(srv.port)
    a.send(b"TWICE\r\n")
    assert line(a) == "first"
    # b's message goes out while the worker still owes its late answer.
    b.send(b"mine\r\n")
    got_b = line(b)
    a.expect_silence(T(0.5))
    return got_b


@pytest.mark.deadline(30)
def test_fence_always_drops_a_late_second_answer(rr, events):
    srv = rr(command=LATE, pool={"num_workers": 1},
             tcp_extra={"fence": "always"})
    assert run_pair(srv) == "mine"
    srv.wait_log(msg=re.compile(r"no request in flight"))


@pytest.mark.deadline(30)
def test_default_fences_a_worker_after_its_first_stray(rr, events):
    """The documented hole: without `fence: always`, the first late answer
    may go to the next client; from then on that worker is fenced."""
    srv = rr(command=LATE, pool={"num_workers": 1})
    first = run_pair(srv)
    assert first in ("second", "mine"), first
    time.sleep(T(0.5))
    # If it was taken for b's answer, "mine" is now the stray: logged, and
    # the worker fenced, so the next pair is served right.
    assert run_pair(srv) == "mine"
