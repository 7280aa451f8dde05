"""Worker environment (rrtcp-protocol(7) 3.1, checklist 3)."""

import json

import harness
from harness import Client, T, free_port


def env_of(rr, **kw):
    srv = rr(command=harness.php_command("env.php"),
             pool={"num_workers": 1}, **kw)
    c = Client(srv.port)
    data = json.loads(c.line(T(10)))
    c.close()
    return data


def test_worker_environment(rr, tmp_path):
    d = env_of(rr,
               server_env={"foo_bar": "from-config", "Mixed_Case": "v2",
                           "EXPANDED": "${E2E_OUTER}-x"},
               env={"FOO_BAR": "from-parent", "RR_RELAY": "bogus",
                    "RR_MODE": "bogus", "E2E_OUTER": "outer",
                    "E2E_PLAIN": "inherited"})
    v = d["vars"]
    assert d["dups"] == [], "duplicate variables: %r" % d["dups"]
    assert v["RR_RELAY"] == "pipes"
    assert v["RR_MODE"] == "tcp"
    assert v.get("RR_VERSION"), "RR_VERSION not set"
    assert "RR_RPC" not in v
    assert v["FOO_BAR"] == "from-config"
    assert v["MIXED_CASE"] == "v2"
    assert "Mixed_Case" not in v and "foo_bar" not in v
    assert v["EXPANDED"] == "outer-x"
    assert v["E2E_PLAIN"] == "inherited"


def test_rr_rpc_set_when_rpc_listen_configured(rr):
    listen = "tcp://127.0.0.1:%d" % free_port()
    d = env_of(rr, rpc_listen=listen)
    assert d["vars"].get("RR_RPC") == listen
    assert d["dups"] == []
