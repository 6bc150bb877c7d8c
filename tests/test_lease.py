"""The learner lease: one live process per learner, stale leases taken over, loss detected."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from league.lease import Lease, LeaseError, process_start


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_second_process_is_refused_and_told_who_runs_it(tmp_path):
    path = tmp_path / "owner.json"
    first = Lease(path, "learner a")
    first.acquire()
    try:
        other = Lease(path, "learner a")
        other.host = "another-host"  # seen from elsewhere, the holder's pid cannot be checked
        with pytest.raises(LeaseError, match="learner a is already running") as error:
            other.acquire(wait=0.3)
        assert f"pid {first.holder()['pid']}" in str(error.value)
    finally:
        first.release()
    assert not path.exists()


def test_stale_leases_are_taken_over(tmp_path):
    path = tmp_path / "owner.json"
    lease = Lease(path, "learner a")
    path.write_text(json.dumps({"token": "old", "host": lease.host, "pid": _dead_pid(), "heartbeat": time.time()}))
    lease.acquire()  # its holder on this host is dead
    assert lease.holder()["token"] == lease.token
    lease.release()
    path.write_text(json.dumps({"token": "old", "host": "elsewhere", "pid": 1, "heartbeat": time.time() - 1000}))
    late = Lease(path, "learner a", timeout=60)
    late.acquire()  # silent for longer than the timeout
    late.release()


def test_a_lease_taken_over_behind_its_back_is_noticed(tmp_path):
    path = tmp_path / "owner.json"
    lost = threading.Event()
    lease = Lease(path, "learner a", heartbeat=0.05, on_lost=lost.set)
    lease.acquire()
    path.write_text(json.dumps({"token": "intruder", "host": "x", "pid": 1, "heartbeat": time.time()}))
    assert lost.wait(5) and lease.lost.is_set()
    lease.release()
    assert path.exists()  # the intruder's lease is not removed


def test_a_reused_pid_is_not_taken_for_the_holder(tmp_path):
    """After a container restart the new learner may have the pid its dead predecessor had."""
    path = tmp_path / "owner.json"
    lease = Lease(path, "learner a")
    record = {"token": "old", "host": lease.host, "pid": os.getpid(), "heartbeat": time.time()}
    path.write_text(json.dumps({**record, "started": process_start(os.getpid())}))
    with pytest.raises(LeaseError):  # the same process, alive: it holds the lease
        lease.acquire(wait=0.2)
    if process_start(os.getpid()) is None:
        pytest.skip("no /proc here: a process's start time cannot be read")
    path.write_text(json.dumps({**record, "started": "another-boot:12345"}))
    lease.acquire()  # the pid lives, but it is another process: taken over at once
    assert lease.holder()["token"] == lease.token
    lease.release()
