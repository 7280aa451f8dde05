"""Config errors and tolerated configs (rrtcp-protocol(7) 4.1, Q8; checklist 29)."""

import re
import time

from harness import Client, T, free_port, php_command


def run_config(spawn, tmp_path, text):
    path = tmp_path / ".rr.yaml"
    path.write_text(text)
    return spawn(["serve", "-c", str(path)]), path


def ready_or_exit(srv, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if srv.find(msg="ready"):
            return "ready"
        if srv.proc.poll() is not None:
            return "exit"
        time.sleep(0.05)
    raise AssertionError("neither ready nor exited\n" + srv.dump())


def expect_config_error(spawn, tmp_path, text, message):
    srv, path = run_config(spawn, tmp_path, text)
    assert srv.wait_exit(T(10)) == 2
    assert not srv.find(msg="ready")
    rx = re.compile(r"\S+:\d+: .*" + re.escape(message))
    assert srv.find_lines(rx.pattern), srv.dump()
    return srv


def base(servers_yaml, pool="    num_workers: 1\n"):
    return ('version: "3"\nserver:\n  command: "%s"\ntcp:\n%s  pool:\n%s'
            % (php_command("worker.php"), servers_yaml, pool))


def test_no_servers(spawn, tmp_path):
    expect_config_error(spawn, tmp_path, base(""), "no servers registered")


def test_empty_address(spawn, tmp_path):
    expect_config_error(spawn, tmp_path,
                        base('  servers:\n    main:\n      addr: ""\n'),
                        "empty address for the server: main")


def test_invalid_protocol(spawn, tmp_path):
    expect_config_error(
        spawn, tmp_path,
        base('  servers:\n    main:\n      addr: "garbage://127.0.0.1:%d"\n'
             % free_port()),
        "invalid Protocol")


def test_too_many_workers(spawn, tmp_path):
    srv, _ = run_config(spawn, tmp_path, base(
        '  servers:\n    main:\n      addr: "127.0.0.1:%d"\n' % free_port(),
        pool="    num_workers: 501\n"))
    assert srv.wait_exit(T(10)) == 2
    assert srv.find_lines(r"\S+:\d+: .*(num_workers|500)"), srv.dump()


def test_bare_number_duration(spawn, tmp_path):
    """Q8: rejected, or read as seconds with a warning; never silent."""
    port = free_port()
    srv, _ = run_config(spawn, tmp_path, base(
        '  servers:\n    main:\n      addr: "127.0.0.1:%d"\n' % port,
        pool="    num_workers: 1\n    allocate_timeout: 60\n"))
    outcome = ready_or_exit(srv, T(15))
    assert srv.find_lines(r"\S+:\d+: .*(allocate_timeout|duration)"), srv.dump()
    if outcome == "exit":
        assert srv.proc.returncode == 2
    else:
        c = Client(port)
        assert c.ask("ECHO ok") == "ok"


def test_unknown_tcp_key_only_warns(spawn, tmp_path):
    port = free_port()
    srv, _ = run_config(spawn, tmp_path, base(
        '  frobnicate: 17\n  servers:\n    main:\n      addr: "127.0.0.1:%d"\n'
        % port))
    srv.wait_ready()
    assert srv.find_lines(r"\S+:\d+: .*frobnicate"), srv.dump()
    c = Client(port)
    assert c.ask("ECHO ok") == "ok"


FULL_RR = """\
version: "3"

rpc:
  listen: tcp://127.0.0.1:{rpc}

server:
  command: "{cmd}"
  relay: pipes
  env:
    APP_ENV: test

logs:
  mode: production
  level: info

http:
  address: 127.0.0.1:{http}
  middleware: ["gzip", "headers"]
  pool:
    num_workers: 4
    max_jobs: 64
    supervisor:
      max_worker_memory: 128

jobs:
  consume: ["local"]
  pool:
    num_workers: 2
  pipelines:
    local:
      driver: memory
      config:
        priority: 10

kv:
  local:
    driver: memory
    config: {{}}

metrics:
  address: 127.0.0.1:{metrics}

tcp:
  servers:
    smtp:
      addr: tcp://127.0.0.1:{smtp}
      delimiter: "\\r\\n"
    server2:
      addr: 127.0.0.1:{s2}
  read_buf_size: 20
  pool:
    num_workers: 2
    max_jobs: 0
    allocate_timeout: 60s
    destroy_timeout: 5s
"""


def test_full_roadrunner_config_starts(spawn, tmp_path):
    ports = dict(rpc=free_port(), http=free_port(), metrics=free_port(),
                 smtp=free_port(), s2=free_port())
    srv, _ = run_config(spawn, tmp_path,
                        FULL_RR.format(cmd=php_command("worker.php"), **ports))
    srv.wait_ready()
    for name, port in (("smtp", ports["smtp"]), ("server2", ports["s2"])):
        c = Client(port)
        ctx = c.ask("CTX")
        uuid = c.ask("UUID")
        assert ctx.endswith('"server":"%s","uuid":"%s","event":"DATA"}'
                            % (name, uuid)), ctx
