"""Files that are never half-written, and write errors that say which file and why.

``atomic_write`` writes a temporary file beside the target, flushes and fsyncs it and renames it
over the target, so a crash leaves either the old file or the new one. A full disk, PyTorch's
own report of one included, becomes one ``OSError`` naming the file, the space left and the
space needed.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise write_error(path, error, 0) from None
    written = 0
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            written = file.tell()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(temporary, path)
    except BaseException as error:
        if not written and os.path.exists(temporary):
            written = os.path.getsize(temporary)
        full = isinstance(error, Exception) and _disk_full(path, error)  # before the partial file goes
        Path(temporary).unlink(missing_ok=True)
        if full:
            raise write_error(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), written) from None
        if isinstance(error, OSError):
            raise write_error(path, error, written) from None
        raise
    return path


def _disk_full(path: Path, error: Exception) -> bool:
    """Whether a failed write ran out of space (PyTorch reports that as a RuntimeError of its own)."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    try:
        return shutil.disk_usage(path.parent).free < 1 << 20
    except OSError:
        return False


def write_error(path: Path, error: OSError, written: int) -> OSError:
    """One line naming the file, what went wrong and, for a full disk, the space at hand."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        try:
            free = shutil.disk_usage(path.parent).free
        except OSError:
            free = 0
        return OSError(
            error.errno,
            f"cannot write {path}: the disk is full ({written / 2**20:.2f} MiB of it were written, "
            f"{free / 2**20:.2f} MiB are free); free space and run again: it resumes where it stopped",
        )
    return OSError(error.errno, f"cannot write {path}: {error.strerror or error}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
