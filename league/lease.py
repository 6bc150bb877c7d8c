"""One process per learner: an ownership lease on a shared filesystem, without file locks.

A learner's directory holds its training checkpoint; two processes training the same learner
would overwrite each other's work. File locks are unreliable on the network filesystems of
clusters, so ownership is a lease file created with O_CREAT | O_EXCL (atomic on local
filesystems and NFSv3+), carrying the owner (host, pid, SLURM job) and a heartbeat its owner
renews. Another process may take the lease over only when it is stale: its heartbeat is older
than the timeout, or its owner ran on this host and that process no longer exists (a SIGKILLed
learner restarted at once). A process is known by its pid and its start time, since a pid is
reused: after a container restart the new learner may get the very pid its predecessor had.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from plumbing.files import atomic_write


class LeaseError(RuntimeError):
    """The learner is already being run by another live process."""


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, with the boot's id), or None where
    this cannot be read (no /proc). Two processes that share a pid differ here."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after the command name, which may hold spaces
    return f"{boot}:{fields[19]}"


class Lease:
    """Exclusive ownership of ``path`` (e.g. ``learners/<name>/owner.json``).

    Args:
        path: the lease file.
        what: named in messages ("learner sac-a").
        timeout: seconds without a heartbeat after which a lease is stale.
        heartbeat: seconds between renewals while held.
        on_lost: called (from the renewal thread) if another process took the lease over.
    """

    def __init__(self, path: str | os.PathLike, what: str, timeout: float = 180.0, heartbeat: float = 30.0,
                 on_lost=None):  # fmt: skip
        self.path, self.what, self.on_lost = Path(path), what, on_lost
        self.timeout, self.heartbeat = timeout, heartbeat
        self.token = uuid.uuid4().hex
        self.host = socket.gethostname()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.lost = threading.Event()  # set if another process took the lease over

    def _record(self) -> dict:
        return {"token": self.token, "host": self.host, "pid": os.getpid(), "started": process_start(os.getpid()),
                "job": os.environ.get("SLURM_JOB_ID"), "heartbeat": time.time()}  # fmt: skip

    def _write(self) -> None:
        text = json.dumps(self._record()) + "\n"
        atomic_write(self.path, lambda file: file.write(text.encode()))

    def holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def _stale(self, holder: dict) -> bool:
        if time.time() - float(holder.get("heartbeat", 0)) > self.timeout:
            return True
        if holder.get("host") == self.host:
            try:
                pid = int(holder["pid"])
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            except (PermissionError, KeyError, ValueError, TypeError):
                return False
            started = holder.get("started")
            # the pid lives, but it is another process than the holder: the holder is gone
            return started is not None and process_start(pid) not in (None, started)
        return False

    def describe(self, holder: dict) -> str:
        age = time.time() - float(holder.get("heartbeat", 0))
        job = f", SLURM job {holder['job']}" if holder.get("job") else ""
        return f"host {holder.get('host')}, pid {holder.get('pid')}{job}, last heartbeat {age:.0f} s ago"

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lease, waiting up to ``wait`` seconds for a live holder to let go.

        Raises:
            LeaseError: another live process holds it (the message names it).
        """
        deadline = time.time() + wait
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                with os.fdopen(descriptor, "w") as file:
                    file.write(json.dumps(self._record()) + "\n")
                break
            except FileExistsError:
                holder = self.holder()
                if holder is None or self._stale(holder):
                    self._write()  # take over; confirm below that no other taker won
                    time.sleep(0.2)
                    if (self.holder() or {}).get("token") == self.token:
                        break
                    continue
                if time.time() >= deadline:
                    raise LeaseError(
                        f"{self.what} is already running ({self.describe(holder)}); two processes must not "
                        f"train one learner. Stop that one first, or wait: a dead holder's lease expires "
                        f"{self.timeout:.0f} s after its last heartbeat ({self.path})"
                    ) from None
                time.sleep(min(5.0, max(0.1, deadline - time.time())))
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew, name=f"lease {self.what}", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.heartbeat):
            if (self.holder() or {}).get("token") != self.token:
                self.lost.set()
                if self.on_lost is not None:
                    self.on_lost()
                return
            self._write()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if (self.holder() or {}).get("token") == self.token:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Lease:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
