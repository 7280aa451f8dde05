"""Concurrency: three servers at once, 200 connections (checklist 10)."""

import threading

import pytest

from harness import Client, T, kinds


def run_threads(fns):
    errors = []

    def wrap(fn):
        try:
            fn()
        except BaseException as e:          # reported below
            errors.append(e)
    ts = [threading.Thread(target=wrap, args=(fn,), daemon=True) for fn in fns]
    for t in ts:
        t.start()
    for t in ts:
        t.join(T(60))
    assert not [t for t in ts if t.is_alive()], "client threads hung"
    if errors:
        raise errors[0]


@pytest.mark.deadline(60)
def test_100_round_trips_on_three_servers_at_once(rr, events):
    delims = {"crlf": "\r\n", "lf": "\n", "tag": "<END>"}
    srv = rr(servers={n: {"delimiter": d} for n, d in delims.items()},
             pool={"num_workers": 4})
    uuids = {}

    def client(name):
        c = Client(srv.ports[name], timeout=T(20))
        c.send(b"UUID" + delims[name].encode())
        uuids[name] = c.line()[:-2].decode()
        for i in range(100):
            c.send(("ECHO %s-%d" % (name, i) + delims[name]).encode())
            assert c.line() == ("%s-%d\r\n" % (name, i)).encode()
        c.close()
    run_threads([lambda n=n: client(n) for n in delims])
    for name, u in uuids.items():
        evs = events.wait_close(u, T(15))
        assert kinds(evs) == ["CONNECTED"] + ["DATA"] * 101 + ["CLOSE"]
        assert {e["server"] for e in evs} == {name}
        assert [e["body"] for e in evs[2:-1]] == [
            ("ECHO %s-%d" % (name, i) + delims[name]).encode()
            for i in range(100)]


@pytest.mark.deadline(90)
def test_200_concurrent_connections_no_cross_talk(rr, events):
    srv = rr(pool={"num_workers": 4})
    n = 200
    barrier = threading.Barrier(n, timeout=T(30))
    got = {}

    def client(i):
        c = Client(srv.port, timeout=T(30))
        barrier.wait()
        u = c.ask("UUID")
        assert c.ask("ECHO conn-%d" % i) == "conn-%d" % i
        assert c.ask("UUID") == u
        got[i] = (c.local_addr, u)
        barrier.wait()
        c.close()
    run_threads([lambda i=i: client(i) for i in range(n)])
    assert len(got) == n
    assert len({u for _, u in got.values()}) == n, "uuid shared by connections"
    evs = events.wait(lambda evs: sum(e["event"] == "CLOSE" for e in evs) >= n,
                      T(30), what="%d CLOSE events" % n)
    by_uuid = {}
    for e in evs:
        if "uuid" in e:
            by_uuid.setdefault(e["uuid"], []).append(e)
    for i, (addr, u) in got.items():
        mine = by_uuid[u]
        assert kinds(mine) == ["CONNECTED", "DATA", "DATA", "DATA", "CLOSE"], mine
        assert {e["remote_addr"] for e in mine} == {addr}
        assert mine[2]["body"] == b"ECHO conn-%d\r\n" % i
