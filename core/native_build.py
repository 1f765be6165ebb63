"""Build a backend's small C++ library once, keep it in a private cache, load only what passes the checks.

Backends that ship C++ source (the TensorFlow single-pass ops, the torch host scans)
compile it on first use with the machine's C++ compiler and load the result in later
processes. They are compiled at run time, not when optbridge is installed, because a
library built against one torch or TensorFlow links to that release's C++ symbols and must
be rebuilt when the framework is upgraded after optbridge was installed.

Layout: a library lives in ``cache_dir() / f"{kind}-{key}" / filename`` beside its record
``filename + ".sha256"`` (``sha256sum`` format), where ``key`` hashes the source, the
compiler and its version, the flags, the machine, the Python version, this layout's
version and whatever else the caller names (the framework's version), so a change to any
of them builds a new library instead of loading a stale one.

Loading native code runs it in the process, so nothing is loaded that someone else could
have put or changed there (the rules of OpenSSH's ``StrictModes``):

* every directory optbridge creates is created with mode 0700;
* the cache directory and every directory above it (symbolic links resolved) is owned by
  the current user or root, and is writable by group or others only with the sticky bit
  (``/tmp`` is fine: nobody else can rename or replace an entry in it);
* the library's directory, the library and its record are no symbolic links, are owned by
  the current user or root and are not writable by group or others;
* the library's SHA-256 equals the one recorded when it was built. The record lives in
  the checked directory, so nobody who could not also replace the library can forge it;
  what the hash catches is a file truncated, corrupted or replaced after its build
  (a copied or restored cache, another tool overwriting it, a disk error).

A check that fails raises :class:`UntrustedLibraryError`, naming the path and the reason;
:class:`LazyLibrary` turns it into one warning and the caller's fallback. A build runs in
a private temporary directory beside the target and is renamed into place with the
record, so no process ever sees a library without its record or a half-written file, and
logs one notice first (it takes 10-30 s): :func:`prebuild` (``python -m
optbridge.backends.torch.hostscan``, ``python -m optbridge.backends.tensorflow.native``)
builds ahead of time.

Nothing here imports a framework.
"""
from __future__ import annotations

import errno
import hashlib
import logging
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from .errors import OptbridgeError

__all__ = ["cache_dir", "compiler", "cpu_flags", "switched_off", "cached_build", "check_private",
           "check_ancestors", "UntrustedLibraryError", "LazyLibrary", "prebuild"]

#: Part of every key: libraries cached by an earlier layout (without a hash record) are never looked at.
_LAYOUT = "optbridge native cache layout 2"
_RECORD_SUFFIX = ".sha256"
_PRIVATE_HINT = "set OPTBRIDGE_CACHE_DIR to a directory only you can write"
_log = logging.getLogger(__name__)


class UntrustedLibraryError(OptbridgeError, PermissionError):
    """A cached library, its record, its directory or a directory above them failed a check
    (owner, mode, symbolic link, SHA-256): the library is not loaded."""


def cache_dir() -> Path:
    """Where built libraries are kept: ``$OPTBRIDGE_CACHE_DIR``, else ``$XDG_CACHE_HOME/optbridge``
    or ``~/.cache/optbridge``."""
    root = os.environ.get("OPTBRIDGE_CACHE_DIR")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "optbridge"


def switched_off(variable: str) -> bool:
    """Whether the environment variable ``variable`` says ``0``, ``false``, ``off`` or ``no``."""
    return os.environ.get(variable, "1").strip().lower() in ("0", "false", "off", "no")


def compiler() -> str | None:
    """The C++ compiler: ``$CXX``, else ``c++``, ``g++`` or ``clang++`` on ``PATH`` (``None`` if none)."""
    return os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")


def cpu_flags() -> tuple[str, ...]:
    """``-mavx2`` where ``/proc/cpuinfo`` lists AVX2, else nothing; never ``-mfma`` (a fused
    multiply-add rounds once where the canonical op order rounds twice)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return ("-mavx2",) if "avx2" in line.split() else ()
    except OSError:
        pass
    return ()


def _euid() -> int:
    if not hasattr(os, "geteuid"):
        raise UntrustedLibraryError("refusing to load native libraries: file ownership cannot be checked "
                                    "on this platform")
    return os.geteuid()


def _mode(st: os.stat_result) -> str:
    return f"mode {stat.S_IMODE(st.st_mode):04o}"


def check_private(path: Path, *, directory: bool) -> None:
    """Refuse ``path`` unless only the current user (or root) can have written it.

    ``path`` must exist, not be a symbolic link, be a directory (``directory=True``) or a
    regular file, be owned by the current effective user or by root, and have neither the
    group- nor the other-write bit.

    Raises:
        UntrustedLibraryError: naming ``path`` and the rule it breaks.
    """
    euid = _euid()
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise UntrustedLibraryError(f"{path} is missing") from None
    if stat.S_ISLNK(st.st_mode):
        reason = "is a symbolic link"
    elif directory and not stat.S_ISDIR(st.st_mode):
        reason = "is not a directory"
    elif not directory and not stat.S_ISREG(st.st_mode):
        reason = "is not a regular file"
    elif st.st_uid not in (euid, 0):
        reason = f"is owned by uid {st.st_uid}, not by you (uid {euid}) or root"
    elif st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        reason = f"is writable by group or others ({_mode(st)})"
    else:
        return
    raise UntrustedLibraryError(f"{path} {reason}")


def check_ancestors(path: Path) -> None:
    """Refuse a directory in which someone else could replace entries.

    ``path`` (resolved: no symbolic link in it) and every directory above it must be owned
    by the current effective user or by root, and may be writable by group or others only
    with the sticky bit set (then nobody can rename or delete another user's entries).

    Raises:
        UntrustedLibraryError: naming the first directory that breaks the rule, and why.
    """
    euid = _euid()
    for directory in (path, *path.parents):
        st = os.stat(directory)
        if st.st_uid not in (euid, 0):
            raise UntrustedLibraryError(f"{directory} is owned by uid {st.st_uid}, not by you (uid {euid}) or root")
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
            raise UntrustedLibraryError(f"{directory} is writable by group or others without the sticky bit "
                                        f"({_mode(st)})")


def _make_private_dirs(path: Path) -> None:
    """Create ``path`` and any missing directory above it with mode 0700 (whatever the umask)."""
    missing = []
    for directory in (path, *path.parents):
        if os.path.lexists(directory):
            break
        missing.append(directory)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            continue  # another process made it: the checks decide whether it is usable
        os.chmod(directory, 0o700)


def _checked_root() -> Path:
    """The cache directory, created 0700 if missing, resolved, with its ancestors checked."""
    root = cache_dir()
    try:
        _make_private_dirs(root.absolute())
        real = Path(os.path.realpath(root))
        check_ancestors(real)
    except UntrustedLibraryError as exc:
        raise UntrustedLibraryError(f"refusing to build or load native libraries in {root}: {exc}; "
                                    f"{_PRIVATE_HINT}") from None
    return real


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_record(record: Path, filename: str) -> str | None:
    """The SHA-256 a record holds for ``filename``, or ``None`` if it is not a well-formed record."""
    with open(record, "rb") as f:
        fields = f.read(4096).decode("ascii", "replace").split()
    if len(fields) != 2 or fields[1] != filename or len(fields[0]) != 64:
        return None
    try:
        int(fields[0], 16)
    except ValueError:
        return None
    return fields[0].lower()


def _verified(entry: Path, filename: str) -> Path:
    """``entry / filename`` after every check of the module docstring (the ancestors are checked by the caller)."""
    library = entry / filename
    record = entry / (filename + _RECORD_SUFFIX)
    remedy = f"delete {entry} to have it rebuilt, or {_PRIVATE_HINT}"
    try:
        check_private(entry, directory=True)
        check_private(library, directory=False)
        check_private(record, directory=False)
    except UntrustedLibraryError as exc:
        raise UntrustedLibraryError(f"refusing to load {library}: {exc}; {remedy}") from None
    expected = _read_record(record, filename)
    if expected is None:
        raise UntrustedLibraryError(f"refusing to load {library}: {record} is not a SHA-256 record of "
                                    f"{filename}; {remedy}")
    actual = _sha256(library)
    if actual != expected:
        raise UntrustedLibraryError(f"refusing to load {library}: its SHA-256 {actual[:16]}... is not the "
                                    f"{expected[:16]}... recorded when it was built (the file was truncated, "
                                    f"corrupted or replaced since); {remedy}")
    return library


def _build_entry(root: Path, entry: Path, filename: str, line_for: Callable[[str], list[str]],
                 description: str, prebuild_command: str | None) -> None:
    """Compile into a private directory beside ``entry``, record the hash, rename it into place.

    Losing the race to another process building the same entry is fine: its entry is used
    (and checked) instead.
    """
    ahead = f"; `{prebuild_command}` builds it ahead of time" if prebuild_command else ""
    _log.warning("optbridge: compiling %s into %s (once per machine and framework version, 10-30 s%s)",
                 description, entry, ahead)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", suffix=".partial", dir=root))
    try:
        os.chmod(staging, 0o700)
        library = staging / filename
        line = line_for(str(library))
        result = subprocess.run(line, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(line)} failed:\n{result.stderr[-2000:]}")
        os.chmod(library, 0o700)  # the linker's output keeps a group-write bit under umask 002
        fd = os.open(staging / (filename + _RECORD_SUFFIX), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"{_sha256(library)}  {filename}\n")
        try:
            os.rename(staging, entry)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR) or not os.path.lexists(entry):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _entry_name(kind: str, parts: Iterable[bytes]) -> str:
    key = hashlib.sha256()
    for part in parts:
        key.update(part)
        key.update(b"\0")
    return f"{kind}-{key.hexdigest()[:16]}"


def cached_build(kind: str, source: Path, filename: str, flags: Sequence[str], key_parts: Sequence[str],
                 command: Callable[[str, str], list[str]], *, description: str | None = None,
                 prebuild_command: str | None = None) -> Path:
    """The checked path of the library built from ``source``, building it first if the cache lacks it.

    Args:
        kind: the cache subdirectory's prefix (``"tf-native"``).
        source: the C++ file.
        filename: the library's file name inside its directory.
        flags: compiler flags; part of the key.
        key_parts: further strings the library depends on (framework version, ABI).
        command: ``command(compiler, output)`` is the full compiler command line.
        description: what is built, for the notice logged before a build (``"the torch host
            scans"``; default ``kind``).
        prebuild_command: the command that builds it ahead of time, named in that notice.

    Returns:
        The library's path with symbolic links above the cache resolved: the file the checks
        passed, to be loaded as is.

    Raises:
        UntrustedLibraryError: the cache, the library's directory, the library or its
            record failed a check of the module docstring (the message names the path and
            the rule); nothing was loaded or built.
        RuntimeError: no compiler was found, or the build failed (the message holds the
            command and the end of the compiler's output).
    """
    cxx = compiler()
    if cxx is None:
        raise RuntimeError("no C++ compiler found (set CXX or install g++)")
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout
    parts = [source.read_bytes(), cxx.encode(), version.encode(), " ".join(flags).encode(),
             platform.machine().encode(), sys.version.encode(), _LAYOUT.encode(), *(p.encode() for p in key_parts)]
    root = _checked_root()
    entry = root / _entry_name(kind, parts)
    if not os.path.lexists(entry):
        _build_entry(root, entry, filename, lambda out: command(cxx, out), description or kind, prebuild_command)
    return _verified(entry, filename)


class LazyLibrary:
    """A library located (built and checked) and opened on first use, once per process,
    with a switch and a fallback.

    ``load()`` returns ``open_library(locate())``, or ``None`` when the environment variable
    ``env_switch`` says off (then nothing is built or loaded) or when either call raised —
    among others :class:`UntrustedLibraryError`, before anything was loaded: that failure
    is kept (:meth:`build_error`) and reported once, as a ``RuntimeWarning`` reading
    ``"optbridge: {name} unavailable, {fallback} ({first line of the error})"``, and the
    caller takes its fallback. Thread-safe; the outcome is remembered.
    """

    def __init__(self, name: str, env_switch: str, fallback: str, locate: Callable[[], Path],
                 open_library: Callable[[Path], Any]):
        self.name = name
        self.env_switch = env_switch
        self._fallback = fallback
        self._locate = locate
        self._open = open_library
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {}

    def enabled(self) -> bool:
        """Whether the library may be used (the switch is not ``0``/``false``/``off``/``no``)."""
        return not switched_off(self.env_switch)

    def build_error(self) -> str | None:
        """Why the library is not available in this process (``None`` if it is, or was not tried)."""
        return self._state.get("error")

    def path(self) -> Path | None:
        """The checked file the library was opened from (``None`` if it was not)."""
        return self._state.get("path")

    def load(self) -> Any:
        """The opened library, or ``None`` (switched off, refused, or it could not be built or opened)."""
        if not self.enabled():
            return None
        if "library" in self._state:
            return self._state["library"]
        with self._lock:
            if "library" not in self._state:
                library = None
                try:
                    path = self._locate()
                    library = self._open(path)
                    self._state["path"] = path
                except Exception as exc:  # any failure means: the caller's fallback
                    self._state["error"] = f"{type(exc).__name__}: {exc}"
                    warnings.warn(f"optbridge: {self.name} unavailable, {self._fallback} "
                                  f"({self._state['error'].splitlines()[0]})", RuntimeWarning, stacklevel=2)
                self._state["library"] = library
            return self._state["library"]


def prebuild(library: LazyLibrary, out: TextIO | None = None) -> int:
    """Build (or find), check and open ``library`` now, and say where it is or why not.

    For an image's build step or a job's setup, so the first optimizer step does not pay
    for the compilation; run it as the user (and with the ``OPTBRIDGE_CACHE_DIR``) that
    trains, since only that user's or root's files are loaded.

    Returns:
        The exit status: 0 when the library is ready, 1 when it is switched off or could
        not be built, checked or opened (the reason is printed).
    """
    out = out or sys.stdout
    if not library.enabled():
        print(f"optbridge: {library.name} switched off ({library.env_switch}={os.environ[library.env_switch]}); "
              "nothing built", file=out)
        return 1
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the error is printed below instead
        opened = library.load()
    if opened is None:
        print(f"optbridge: {library.name} unavailable: {library.build_error()}", file=out)
        return 1
    print(f"optbridge: {library.name} ready in {time.perf_counter() - start:.1f} s: {library.path()}", file=out)
    return 0
