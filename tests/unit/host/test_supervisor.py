"""The host's supervisor (`python -m fedpe.host.supervisor -- ARGV`): restarts a worker that exits on
its own, and stops it, then itself, on SIGTERM."""

import os
import signal
import subprocess
import sys
import time


def _start(tmp_path, body: str) -> subprocess.Popen:
    script = tmp_path / "worker.py"
    script.write_text(body)
    return subprocess.Popen([sys.executable, "-m", "fedpe.host.supervisor", "--", sys.executable, str(script)],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "STARTS": str(tmp_path / "starts")})


def _wait_for(predicate, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_worker_that_exits_is_started_again(tmp_path):
    starts = tmp_path / "starts"
    sup = _start(tmp_path, "import os\nopen(os.environ['STARTS'], 'a').write('x')\nraise SystemExit(3)\n")
    try:
        _wait_for(lambda: starts.exists() and len(starts.read_text()) >= 2)
    finally:
        sup.send_signal(signal.SIGTERM)
        _, err = sup.communicate(timeout=30)
    assert sup.returncode == 0
    assert "worker exited with 3; starting it again in 1 s" in err


def test_sigterm_stops_the_worker_and_then_the_supervisor(tmp_path):
    starts = tmp_path / "starts"
    sup = _start(tmp_path, "import os, signal, sys, time\n"
                           "signal.signal(signal.SIGTERM, lambda *a: (open(os.environ['STARTS'] + '.term', 'w').write('t'),"
                           " sys.exit(0)))\nopen(os.environ['STARTS'], 'a').write('x')\ntime.sleep(600)\n")
    _wait_for(starts.exists)
    sup.send_signal(signal.SIGTERM)
    sup.communicate(timeout=30)
    assert sup.returncode == 0
    assert (tmp_path / "starts.term").read_text() == "t"  # the worker got the SIGTERM itself
    assert starts.read_text() == "x"  # and was not started again


def test_the_supervisor_refuses_a_command_line_without_a_worker():
    done = subprocess.run([sys.executable, "-m", "fedpe.host.supervisor"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "usage: python -m fedpe.host.supervisor -- WORKER-ARGV" in done.stderr


def test_each_start_of_the_worker_gets_a_loopback_port_free_at_that_moment(tmp_path):
    from fedpe.host.supervisor import FREE_PORT

    starts = tmp_path / "starts"
    script = tmp_path / "worker.py"
    script.write_text("import os, socket, sys\n"
                      "port = int(sys.argv[1].rsplit(':', 1)[1])\n"
                      "socket.socket().bind(('127.0.0.1', port))  # free: the bind succeeds\n"
                      "open(os.environ['STARTS'], 'a').write(f'{port} ')\n"
                      "raise SystemExit(3)\n")
    sup = subprocess.Popen([sys.executable, "-m", "fedpe.host.supervisor", "--", sys.executable, str(script),
                            f"fedpe://127.0.0.1:{FREE_PORT}"], stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "STARTS": str(starts)})
    try:
        _wait_for(lambda: starts.exists() and len(starts.read_text().split()) >= 2)
    finally:
        sup.send_signal(signal.SIGTERM)
        sup.communicate(timeout=30)

    ports = [int(p) for p in starts.read_text().split()]
    assert len(ports) >= 2 and all(0 < p < 65536 for p in ports)
