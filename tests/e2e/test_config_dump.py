"""rrtcp check -T: the effective configuration on stdout, read back by check."""

import os
import subprocess

import harness
from harness import T, php_command

REPO = os.path.join(os.path.dirname(__file__), "..", "..")


def check(*args, env=None):
    return subprocess.run([harness.rrtcp_bin(), "check"] + list(args),
                          capture_output=True, text=True, timeout=T(10),
                          env=env)


def write(path, text):
    path.write_text(text)
    return str(path)


CONFIG = """version: "3"
server:
  command: "%s"
  env:
    greeting: ${DUMP_GREETING}
tcp:
  servers:
    main:
      addr: 127.0.0.1:7031
      delimiter: "\\n"
  pool:
    num_workers: 2
    allocate_timeout: 90s
""" % php_command("worker.php")


def test_dump_shows_defaults_env_and_overrides(tmp_path):
    cfg = write(tmp_path / "rr.yaml", CONFIG)
    env = dict(os.environ, DUMP_GREETING="hello there")
    run = check("-T", "-c", cfg, "-o", "tcp.pool.num_workers=3",
                "-o", "tcp.servers.main.max_message_size=4KiB", env=env)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "configuration OK" not in out
    assert "    num_workers: 3\n" in out, out
    assert "      max_message_size: 4096\n" in out, out
    assert '    "GREETING": "hello there"\n' in out, out
    assert "    allocate_timeout: 1m30s\n" in out, out
    # defaults that the file never names
    assert "  max_frame_size: 67108864\n" in out, out
    assert "    destroy_timeout: 1m0s\n" in out, out
    assert '      delimiter: "\\n"\n' in out, out


def test_dump_is_read_back_by_check(tmp_path):
    cfg = write(tmp_path / "rr.yaml", CONFIG)
    first = check("-T", "-c", cfg, "-o", "tcp.pool.num_workers=3")
    assert first.returncode == 0, first.stderr
    again = write(tmp_path / "again.yaml", first.stdout)
    plain = check("-c", again)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == "configuration OK\n"
    assert plain.stderr == "", "no warning on the dump: " + plain.stderr
    # same effective config, up to the header comment naming the file
    second = check("-T", "-c", again)
    assert second.returncode == 0, second.stderr

    def body(text):
        return [l for l in text.splitlines() if not l.startswith("#")]
    assert body(second.stdout) == body(first.stdout)


def test_dump_of_the_shipped_example(tmp_path):
    run = check("-T", "-c", os.path.join(REPO, "conf", "rrtcp.yaml"))
    assert run.returncode == 0, run.stderr
    assert '    "smtp":\n      addr: "127.0.0.1:2525"\n' in run.stdout, \
        run.stdout


def test_error_goes_to_stderr_with_a_line_and_nothing_is_dumped(tmp_path):
    cfg = write(tmp_path / "rr.yaml",
                CONFIG.replace("num_workers: 2", "num_workers: 501"))
    run = check("-T", "-c", cfg)
    assert run.returncode == 2
    assert run.stdout == ""
    assert "rr.yaml:12: num_workers: 501 is too large (at most 500)" in \
        run.stderr, run.stderr


def test_dump_flag_belongs_to_check_only(tmp_path):
    cfg = write(tmp_path / "rr.yaml", CONFIG)
    run = subprocess.run([harness.rrtcp_bin(), "workers", "-T", "-c", cfg],
                         capture_output=True, text=True, timeout=T(10))
    assert run.returncode == 2
    assert "usage:" in run.stderr
