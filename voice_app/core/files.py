"""Writing the app's files: private modes, atomic replacement, and typed errors for full or read-only disks."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from voice_app.core.errors import DataDirError, DiskFullError

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def os_error(exc: OSError, what: str) -> DataDirError:
    """A typed error for a failed write of `what`; raise it `from exc` so the original stays attached."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"The disk is full: {what} could not be written; nothing already saved was lost.")
    if exc.errno == errno.EROFS:
        return DataDirError(
            f"{what} could not be written: the disk is read-only.", fix="Use a writable disk (VOICE_APP_HOME)."
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return DataDirError(f"{what} could not be written: permission denied ({exc.filename}).")
    return DataDirError(f"{what} could not be written: {exc.strerror or exc}.")


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) 0700; an existing folder is made 0700 too."""
    try:
        missing = []
        probe = path
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        for folder in reversed(missing):  # mkdir(parents=True) would give the parents the umask's mode
            folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)
            os.chmod(folder, PRIVATE_DIR)
        os.chmod(path, PRIVATE_DIR)
    except OSError as exc:
        raise os_error(exc, f"the folder {path}") from exc
    return path


def write_private(
    path: Path, data: bytes, *, what: str | None = None, mode: int = PRIVATE_FILE, own_folder: bool = True
) -> Path:
    """Write `data` to `path` atomically (temp file, fsync, rename) with `mode`; never a half-written file.

    `own_folder`: the parent is one of the app's folders and is made 0700; False for a place the user
    chose (an export), whose existing folder is left as it is.
    """
    what = what or str(path)
    if own_folder or not path.parent.exists():
        private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise os_error(exc, what) from exc
    return path


def overwrite_and_unlink(path: Path) -> None:
    """Remove a file after overwriting its bytes in place, so its old content is not left in free blocks."""
    try:
        size = path.stat().st_size
        with path.open("r+b") as handle:
            left = size
            block = b"\0" * min(1 << 20, max(size, 1))
            while left > 0:
                n = min(left, len(block))
                handle.write(block[:n])
                left -= n
            handle.flush()
            os.fsync(handle.fileno())
    except OSError:
        pass  # best effort: the unlink below still happens
    path.unlink(missing_ok=True)


def scratch_dir() -> Path | None:
    """A folder in memory for short-lived plaintext (a card open in $EDITOR): /dev/shm or the runtime dir.

    Never the data dir: a crash there would leave the decrypted text on the disk with the rest.
    None when neither exists (the system temp dir is then used).
    """
    for candidate in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return Path(candidate)
    return None
