"""Writing results so that a crash (``kill -9`` included) never leaves a half-written record that
breaks a later run, and checking output locations before any work starts."""
import contextlib
import json
import os

try:
    import fcntl
except ImportError:  # not on Windows: there a shared data folder is not guarded
    fcntl = None


def append_line(path, line):
    """Append one complete line with a single ``write`` on an ``O_APPEND`` descriptor, then fsync.

    A write to a regular file is not cut short by a signal, so a killed process leaves the line
    whole or absent. A file that does not end with a newline (a line torn by a crash of an older
    writer, or by a full disk) gets one first, so the new line never merges with the torn one.
    Appenders take turns (an exclusive ``flock`` for the check and the write): another process's
    line still being written would otherwise look torn, and get a newline in its middle.
    """
    if not line.endswith("\n"):
        line += "\n"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)  # checked writable before the work
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(descriptor, fcntl.LOCK_EX)  # released when the descriptor is closed
        size = os.fstat(descriptor).st_size
        if size:
            with open(path, "rb") as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    line = "\n" + line
        os.write(descriptor, line.encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def _locked(path, wait):
    """Hold an exclusive ``flock`` on the file ``path`` (made if missing) for the ``with`` block;
    with ``wait=False`` a lock held elsewhere raises ``BlockingIOError`` at once."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def exclusive(folder, name=".build.lock"):
    """Hold an exclusive lock on ``folder/name`` for the ``with`` block, so that processes sharing
    one data folder (two benchmark streams, DDP ranks) build it one at a time."""
    return _locked(os.path.join(folder, name), wait=True)


@contextlib.contextmanager
def claimed(path, what):
    """Hold an exclusive lock on the file ``path`` for the ``with`` block, or raise ``ValueError``
    naming ``what`` at once if another process holds it (no waiting: the caller has not started
    any long work yet, and the other process may run for hours)."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(_locked(path, wait=False))
        except BlockingIOError:
            raise ValueError(f"{what} is in use by another running process (lock {path!r}); "
                             "wait for it to finish or choose another location") from None
        yield


def write_json(path, content):
    """Write ``content`` as JSON through a temporary file and a rename: readers see all or nothing."""
    temporary = path + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(temporary, "w") as handle:
        json.dump(content, handle, indent=2)
    os.replace(temporary, path)


def check_output_path(path, key, is_folder=False):
    """Raise ``ValueError`` naming ``key`` unless ``path`` (a file, or a folder with ``is_folder``)
    can be written: its folder exists or can be made, and nothing in the way is a plain file."""
    folder = path if is_folder else (os.path.dirname(os.path.abspath(path)) or ".")
    if not is_folder and os.path.isdir(path):
        raise ValueError(f"{key}: {path!r} is a folder; expected a file path")
    probe = os.path.abspath(folder)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise ValueError(f"{key}: cannot write under {path!r}: {probe!r} is a file, not a folder")
    if not os.access(probe, os.W_OK):
        raise ValueError(f"{key}: cannot write under {path!r}: {probe!r} is not writable")
