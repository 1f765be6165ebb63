"""Build a backend's small C++ library once and keep it in optbridge's cache.

Backends that ship C++ source (the TensorFlow single-pass ops, the torch host scans)
compile it on first use with the machine's C++ compiler and load the result in later
processes. A library lives in ``cache_dir() / f"{kind}-{key}" / filename``, where ``key``
hashes the source, the compiler and its version, the flags, the machine, the Python
version and whatever else the caller names (the framework's version), so a change to any
of them builds a new library instead of loading a stale one. A build writes to a
temporary file and renames it into place, so concurrent processes never load half a file.

Nothing here imports a framework.
"""
from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

__all__ = ["cache_dir", "compiler", "cpu_flags", "switched_off", "cached_build", "LazyLibrary"]


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


def _library_path(kind: str, filename: str, parts: Iterable[bytes]) -> Path:
    key = hashlib.sha256()
    for part in parts:
        key.update(part)
        key.update(b"\0")
    return cache_dir() / f"{kind}-{key.hexdigest()[:16]}" / filename


def cached_build(kind: str, source: Path, filename: str, flags: Sequence[str], key_parts: Sequence[str],
                 command: Callable[[str, str], list[str]]) -> Path:
    """The path of the library built from ``source``, building it first if the cache lacks it.

    Args:
        kind: the cache subdirectory's prefix (``"tf-native"``).
        source: the C++ file.
        filename: the library's file name inside its directory.
        flags: compiler flags; part of the key.
        key_parts: further strings the library depends on (framework version, ABI).
        command: ``command(compiler, output)`` is the full compiler command line.

    Raises:
        RuntimeError: no compiler was found, or the build failed (the message holds the
            command and the end of the compiler's output).
    """
    cxx = compiler()
    if cxx is None:
        raise RuntimeError("no C++ compiler found (set CXX or install g++)")
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout
    parts = [source.read_bytes(), cxx.encode(), version.encode(), " ".join(flags).encode(),
             platform.machine().encode(), sys.version.encode(), *(p.encode() for p in key_parts)]
    target = _library_path(kind, filename, parts)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(suffix=Path(filename).suffix, dir=target.parent)
    os.close(fd)
    line = command(cxx, partial)
    try:
        result = subprocess.run(line, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(line)} failed:\n{result.stderr[-2000:]}")
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target


class LazyLibrary:
    """A library loaded on first use, once per process, with a switch and a fallback.

    ``load()`` returns ``open_library()``'s result, or ``None`` when the environment
    variable ``env_switch`` says off (then nothing is built) or when ``open_library``
    raised: that failure is kept (:meth:`build_error`) and reported once, as a
    ``RuntimeWarning`` reading ``"optbridge: {unavailable} ({first line of the error})"``,
    and the caller takes its fallback. Thread-safe; the outcome is remembered.
    """

    def __init__(self, env_switch: str, unavailable: str, open_library: Callable[[], Any]):
        self.env_switch = env_switch
        self._unavailable = unavailable
        self._open = open_library
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {}

    def enabled(self) -> bool:
        """Whether the library may be used (the switch is not ``0``/``false``/``off``/``no``)."""
        return not switched_off(self.env_switch)

    def build_error(self) -> str | None:
        """Why the library is not available in this process (``None`` if it is, or was not tried)."""
        return self._state.get("error")

    def load(self) -> Any:
        """The opened library, or ``None`` (switched off, or it could not be built or opened)."""
        if not self.enabled():
            return None
        if "library" in self._state:
            return self._state["library"]
        with self._lock:
            if "library" not in self._state:
                library = None
                try:
                    library = self._open()
                except Exception as exc:  # any failure means: the caller's fallback
                    self._state["error"] = f"{type(exc).__name__}: {exc}"
                    warnings.warn(f"optbridge: {self._unavailable} ({self._state['error'].splitlines()[0]})",
                                  RuntimeWarning, stacklevel=2)
                self._state["library"] = library
            return self._state["library"]
