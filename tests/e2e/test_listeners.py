"""Unix-socket listeners replace only a stale socket: a regular file or a
live socket at the path stops rrtcp at startup with a message naming the
path, and the file is left where it was (tcp.servers and rpc.listen)."""

import socket

from harness import T


def _stale_socket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()           # bound, never listened on: connect is refused


def _fails_naming(srv, path, text):
    rc = srv.wait_exit(T(15))
    assert rc != 0, srv.dump()
    log = srv.log_text()
    assert str(path) in log, log
    assert text in log, log


def test_server_on_a_regular_file_fails_and_keeps_it(rr, tmp_path):
    path = tmp_path / "not-a-socket"
    path.write_text("precious")
    srv = rr(servers={"sock": {"addr": "unix://%s" % path}}, ready=False)
    _fails_naming(srv, path, "not a socket")
    assert path.read_text() == "precious"


def test_rpc_on_a_regular_file_fails_and_keeps_it(rr, tmp_path):
    path = tmp_path / "rpc-not-a-socket"
    path.write_text("precious")
    srv = rr(rpc_listen="unix://%s" % path, ready=False)
    _fails_naming(srv, path, "not a socket")
    assert path.read_text() == "precious"


def test_server_on_a_live_socket_fails_and_leaves_it_working(rr, tmp_path):
    path = tmp_path / "live.sock"
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(str(path))
    other.listen(4)
    try:
        srv = rr(servers={"sock": {"addr": "unix://%s" % path}},
                 ready=False)
        _fails_naming(srv, path, "address already in use")
        # The other listener still owns the path.
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(T(5))
        c.connect(str(path))
        other.settimeout(T(5))
        conn, _ = other.accept()
        conn.close()
        c.close()
    finally:
        other.close()


def test_stale_sockets_are_replaced_for_server_and_rpc(rr, tmp_path):
    spath, rpath = tmp_path / "srv.sock", tmp_path / "rpc.sock"
    _stale_socket(spath)
    _stale_socket(rpath)
    srv = rr(servers={"sock": {"addr": "unix://%s" % spath}},
             rpc_listen="unix://%s" % rpath)
    srv.wait_log(msg="rpc listening")
    for p in (spath, rpath):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(T(5))
        c.connect(str(p))
        c.close()
