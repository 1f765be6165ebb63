"""The process-level checks every library built through ``optbridge.native_build`` passes.

A *probe* is Python source run in a fresh interpreter: it builds an optimizer that uses
the library, steps it, and prints lines ending with one holding the resulting numbers.
The checks: the environment switch builds nothing; a failing compiler warns exactly once
and gives the numbers of the switched-off run; a second process loads the cached build
instead of rebuilding it; and a library planted where the cache would hold it (by another
user, in a world-writable directory, behind a symbolic link, or with a hash that is not
the recorded one) is never loaded: its constructor does not run, one warning names the
path and the reason, and the numbers are those of the switched-off run.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable, NamedTuple

import pytest

from optbridge import native_build

#: Another user, to give planted files away to (tests run as root here; elsewhere the
#: plantings that need it are skipped).
OTHER_UID = 65534
#: The planted library writes "planted library ran" to the file this variable names, from
#: a constructor: if that file exists, the library was loaded.
MARKER_VARIABLE = "OPTBRIDGE_TEST_MARKER"

_MARKER_SOURCE = """
#include <cstdio>
#include <cstdlib>
__attribute__((constructor)) static void optbridge_test_planted() {
    if (const char *path = std::getenv("OPTBRIDGE_TEST_MARKER")) {
        if (std::FILE *f = std::fopen(path, "w")) { std::fputs(MESSAGE, f); std::fclose(f); }
    }
}
"""


def fresh_process(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


def compile_marker_library(directory: Path, message: str = "planted library ran") -> Path:
    """A shared library whose constructor writes ``message`` to ``$OPTBRIDGE_TEST_MARKER``."""
    source = directory / "marker.cpp"
    source.write_text(_MARKER_SOURCE)
    out = directory / "marker.so"
    subprocess.run([native_build.compiler(), "-shared", "-fPIC", f'-DMESSAGE="{message}\\n"', "-o", str(out),
                    str(source)], check=True, capture_output=True)
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_entry(entry: Path, filename: str, library: Path, record_of: Path, *, link: bool = False) -> None:
    """``entry`` holding ``library`` (copied, or a symbolic link to it) under ``filename`` and a
    record holding ``record_of``'s SHA-256, every part private to the current user."""
    entry.mkdir(mode=0o700)
    if link:
        (entry / filename).symlink_to(library)
    else:
        shutil.copyfile(library, entry / filename)
        (entry / filename).chmod(0o700)
    (entry / (filename + ".sha256")).write_text(f"{_sha256(record_of)}  {filename}\n")
    (entry / (filename + ".sha256")).chmod(0o600)


def _give_away(*paths: Path) -> None:
    for path in paths:
        os.chown(path, OTHER_UID, OTHER_UID, follow_symlinks=False)


def _in_world_writable_cache_by_another_user(cache, entry, filename, planted, genuine):
    cache.chmod(0o1777)
    _write_entry(entry, filename, planted, planted)
    entry.chmod(0o777)
    (entry / filename).chmod(0o777)
    _give_away(entry, entry / filename, entry / (filename + ".sha256"))


def _in_world_writable_cache_without_sticky_bit(cache, entry, filename, planted, genuine):
    cache.chmod(0o777)  # anyone may rename the checked entry away and put another in its place
    _write_entry(entry, filename, planted, planted)


def _in_a_directory_owned_by_another_user(cache, entry, filename, planted, genuine):
    _write_entry(entry, filename, planted, planted)
    entry.chmod(0o755)
    _give_away(entry, entry / filename, entry / (filename + ".sha256"))


def _with_the_genuine_librarys_hash_record(cache, entry, filename, planted, genuine):
    _write_entry(entry, filename, planted, genuine)  # the library was replaced after its build


def _as_a_symbolic_link(cache, entry, filename, planted, genuine):
    _write_entry(entry, filename, planted, planted, link=True)


def _in_a_symbolically_linked_directory(cache, entry, filename, planted, genuine):
    elsewhere = cache.parent / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    _write_entry(elsewhere / entry.name, filename, planted, planted)
    entry.symlink_to(elsewhere / entry.name, target_is_directory=True)


def _group_writable(cache, entry, filename, planted, genuine):
    _write_entry(entry, filename, planted, planted)
    (entry / filename).chmod(0o770)


class Planting(NamedTuple):
    plant: Callable[[Path, Path, str, Path, Path], None]
    #: Text the refusal must contain.
    reason: str
    needs_root: bool


#: Every way a library can be planted, and the check that refuses it.
PLANTINGS = {
    "world-writable-1777-cache-by-another-user": Planting(_in_world_writable_cache_by_another_user,
                                                          f"is owned by uid {OTHER_UID}", True),
    "world-writable-cache-without-sticky-bit": Planting(_in_world_writable_cache_without_sticky_bit,
                                                        "writable by group or others without the sticky bit", False),
    "directory-owned-by-another-user": Planting(_in_a_directory_owned_by_another_user,
                                                f"is owned by uid {OTHER_UID}", True),
    "wrong-hash-record": Planting(_with_the_genuine_librarys_hash_record, "recorded when it was built", False),
    "symlinked-library": Planting(_as_a_symbolic_link, "is a symbolic link", False),
    "symlinked-directory": Planting(_in_a_symbolically_linked_directory, "is a symbolic link", False),
    "group-writable-library": Planting(_group_writable, "writable by group or others (mode 0770)", False),
}


def plant(how: str, cache: Path, entry_name: str, filename: str, planted: Path, genuine: Path) -> Path:
    """Create ``cache`` (mode 0700) with ``planted`` at the name a build of ``genuine`` has there,
    the way ``how`` says; returns the entry's path. Skips the test when ``how`` needs root."""
    planting = PLANTINGS[how]
    if planting.needs_root and os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    cache.mkdir(mode=0o700)
    planting.plant(cache, cache / entry_name, filename, planted, genuine)
    return cache / entry_name


def switched_off_builds_nothing(probe: str, env: dict[str, str], switch: str, off_marker: str,
                                cache: Path) -> None:
    out = fresh_process(probe, {**env, switch: "0", "OPTBRIDGE_CACHE_DIR": str(cache)})
    assert out.returncode == 0, out.stderr
    assert off_marker in out.stdout and "error None" in out.stdout, out.stdout
    assert list(cache.iterdir()) == []


def failing_build_warns_once(probe: str, env: dict[str, str], switch: str, off_marker: str, warning: str,
                             tmp_path: Path) -> None:
    failing = tmp_path / "failing-c++"
    failing.write_text("#!/bin/sh\necho 'simulated compiler failure' >&2\nexit 1\n")
    failing.chmod(0o755)
    out = fresh_process(probe, {**env, "CXX": str(failing), "OPTBRIDGE_CACHE_DIR": str(tmp_path / "cache")})
    assert out.returncode == 0, out.stderr
    assert off_marker in out.stdout and "simulated compiler failure" in out.stdout, out.stdout
    assert out.stdout.count(warning) == 1
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []  # the private build directory is gone
    reference = fresh_process(probe, {**env, switch: "0", "OPTBRIDGE_CACHE_DIR": str(tmp_path)})
    assert out.stdout.splitlines()[-1] == reference.stdout.splitlines()[-1]  # same numbers


class Build(NamedTuple):
    """A library built by a probe in a fresh cache."""
    entry: Path
    library: Path
    numbers: str


def first_build(probe: str, env: dict[str, str], on_marker: str, kind: str, cache: Path) -> Build:
    """Run ``probe`` on ``cache``, which must not exist yet, nor its parent: it builds the
    library (after a notice) and uses it; the two directories and the library's are
    created 0700, the library and its record are private to the user."""
    first = fresh_process(probe, {**env, "OPTBRIDGE_CACHE_DIR": str(cache)})
    assert first.returncode == 0 and on_marker in first.stdout, first.stderr + first.stdout
    assert "optbridge: compiling the" in first.stderr, first.stderr  # the one-time notice
    (entry,) = list(cache.iterdir())  # no staging directory left beside it
    assert entry.name.startswith(kind + "-")
    (record,) = list(entry.glob("*.sha256"))
    library = entry / record.name.removesuffix(".sha256")
    assert sorted(p.name for p in entry.iterdir()) == sorted([library.name, record.name])
    assert record.read_text() == f"{_sha256(library)}  {library.name}\n"
    for path, mode in ((cache, 0o700), (cache.parent, 0o700), (entry, 0o700), (library, 0o700), (record, 0o600)):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path
    return Build(entry, library, first.stdout.splitlines()[-1])


def build_is_cached_across_processes(probe: str, env: dict[str, str], on_marker: str, build: Build) -> None:
    stamp = build.library.stat().st_mtime_ns
    second = fresh_process(probe, {**env, "OPTBRIDGE_CACHE_DIR": str(build.entry.parent)})
    assert on_marker in second.stdout, second.stderr + second.stdout
    assert "compiling" not in second.stderr  # no build notice: nothing was built
    assert build.library.stat().st_mtime_ns == stamp  # loaded, not rebuilt (a build replaces the file)
    assert list(build.entry.parent.iterdir()) == [build.entry]
    assert second.stdout.splitlines()[-1] == build.numbers


def planted_library_is_not_loaded(probe: str, env: dict[str, str], off_marker: str, warning: str, build: Build,
                                  fallback_numbers: str, how: str, tmp_path: Path) -> None:
    planted = compile_marker_library(tmp_path)
    cache = tmp_path / "cache"
    plant(how, cache, build.entry.name, build.library.name, planted, build.library)
    marker = tmp_path / "marker"
    out = fresh_process(probe, {**env, "OPTBRIDGE_CACHE_DIR": str(cache), MARKER_VARIABLE: str(marker)})
    assert out.returncode == 0, out.stderr
    assert not marker.exists(), "the planted library was loaded"
    assert off_marker in out.stdout, out.stdout
    (line,) = [ln for ln in out.stdout.splitlines() if ln.startswith("warnings")]
    assert line.count(warning) == 1 and "UntrustedLibraryError" in line, line
    assert PLANTINGS[how].reason in line and str(cache) in line, line
    assert "compiling" not in out.stderr  # refused: nothing was built in its place either
    assert out.stdout.splitlines()[-1] == fallback_numbers
