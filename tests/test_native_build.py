"""``optbridge.native_build`` on a tiny library, without a framework: the private cache, the
checks before loading, the hash record, the atomic build and the prebuild entry.

The library's constructor writes a message to ``$OPTBRIDGE_TEST_MARKER``, so a test sees
whether it was loaded (``ctypes.CDLL`` runs the constructor, as ``dlopen`` does for torch's
extension loader and ``tf.load_op_library``).
"""
from __future__ import annotations

import ctypes
import io
import os
import stat
import warnings
from pathlib import Path

import pytest

import native_build_checks as checks
from optbridge import native_build
from optbridge.native_build import LazyLibrary, UntrustedLibraryError

pytestmark = pytest.mark.skipif(native_build.compiler() is None, reason="no C++ compiler")

SWITCH = "OPTBRIDGE_TEST_LIBRARY"


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A cache that does not exist yet (nor its parent), and the marker file."""
    monkeypatch.setenv("OPTBRIDGE_CACHE_DIR", str(tmp_path / "home" / "cache"))
    monkeypatch.setenv(checks.MARKER_VARIABLE, str(tmp_path / "marker"))
    monkeypatch.delenv(SWITCH, raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """The genuine library's source: its constructor writes "genuine library ran"."""
    directory = tmp_path_factory.mktemp("source")
    checks.compile_marker_library(directory, "genuine library ran")
    return directory / "marker.cpp"


def _build(source, calls=None):
    def command(cxx, out):
        if calls is not None:
            calls.append(out)
        return [cxx, "-shared", "-fPIC", '-DMESSAGE="genuine library ran\\n"', "-o", out, str(source)]
    return native_build.cached_build("probe", source, "probe.so", ("-shared",), ["v1"], command,
                                     description="the probe", prebuild_command="make probe")


def _library(source):
    return LazyLibrary("probe library", SWITCH, "doing without", lambda: _build(source), ctypes.CDLL)


def _marker(tmp_path):
    path = tmp_path / "marker"
    return path.read_text() if path.exists() else None


def test_a_build_creates_private_directories_and_a_hash_record_and_loads(env, source, caplog):
    library = _library(source)
    assert library.load() is not None, library.build_error()
    assert _marker(env) == "genuine library ran\n"
    path = library.path()
    cache = env / "home" / "cache"
    assert path.parent.parent == cache and path.parent.name.startswith("probe-")
    for directory in (env / "home", cache, path.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    record = path.with_name("probe.so.sha256")
    assert record.read_text() == f"{checks._sha256(path)}  probe.so\n"  # sha256sum -c reads it
    assert sorted(p.name for p in path.parent.iterdir()) == ["probe.so", "probe.so.sha256"]
    assert [r.getMessage() for r in caplog.records] == [
        f"optbridge: compiling the probe into {path.parent} (once per machine and framework version, 10-30 s; "
        "`make probe` builds it ahead of time)"]


def test_a_second_build_call_reuses_the_checked_library(env, source):
    calls = []
    first = _build(source, calls)
    stamp = first.stat().st_mtime_ns
    assert _build(source, calls) == first and len(calls) == 1 and first.stat().st_mtime_ns == stamp


def test_under_umask_002_the_library_is_still_private(env, source):
    old = os.umask(0o002)
    try:
        path = _build(source)
    finally:
        os.umask(old)
    assert not path.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    assert not path.parent.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def test_an_existing_sticky_world_writable_cache_is_fine(env, source, monkeypatch):
    """Like /tmp: nobody else can rename or replace the user's entries in it."""
    shared = env / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setenv("OPTBRIDGE_CACHE_DIR", str(shared))
    assert _library(source).load() is not None
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777  # not changed: only what optbridge creates is 0700


@pytest.mark.parametrize("how", checks.PLANTINGS)
def test_a_planted_library_is_refused_before_it_is_loaded(env, source, how, tmp_path_factory, monkeypatch):
    genuine = _build(source)
    planted = checks.compile_marker_library(tmp_path_factory.mktemp("planted"))
    cache = env / "planted-cache"
    monkeypatch.setenv("OPTBRIDGE_CACHE_DIR", str(cache))
    checks.plant(how, cache, genuine.parent.name, genuine.name, planted, genuine)
    library = _library(source)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert library.load() is None
        assert library.load() is None
    assert _marker(env) is None, "the planted library was loaded"
    (warning,) = caught  # once
    assert issubclass(warning.category, RuntimeWarning)
    message = str(warning.message)
    assert message.startswith("optbridge: probe library unavailable, doing without (UntrustedLibraryError: refusing")
    assert checks.PLANTINGS[how].reason in message and str(cache) in message, message
    with pytest.raises(UntrustedLibraryError) as refused:
        _build(source)
    assert isinstance(refused.value, PermissionError)
    assert "OPTBRIDGE_CACHE_DIR to a directory only you can write" in str(refused.value)


def test_a_truncated_library_is_refused(env, source):
    path = _build(source)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(UntrustedLibraryError, match="SHA-256 .* is not the .* recorded when it was built"):
        _build(source)


def test_a_missing_or_malformed_record_is_refused(env, source):
    path = _build(source)
    record = path.with_name("probe.so.sha256")
    record.write_text(f"{checks._sha256(path)}  other.so\n")
    with pytest.raises(UntrustedLibraryError, match="is not a SHA-256 record of probe.so"):
        _build(source)
    record.unlink()
    with pytest.raises(UntrustedLibraryError, match=f"{record} is missing; delete {path.parent} to have it rebuilt"):
        _build(source)


def test_a_directory_above_the_cache_owned_by_another_user_is_refused(env, source, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("giving a directory to another user needs root")
    theirs = env / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, checks.OTHER_UID, checks.OTHER_UID)
    monkeypatch.setenv("OPTBRIDGE_CACHE_DIR", str(theirs / "cache"))
    with pytest.raises(UntrustedLibraryError, match=f"{theirs} is owned by uid {checks.OTHER_UID}"):
        _build(source)
    assert not (theirs / "cache").exists() or not any((theirs / "cache").iterdir())  # nothing built there


def test_a_cache_reached_through_a_symbolic_link_is_checked_and_loaded_where_it_resolves(env, source, monkeypatch):
    real = env / "real"
    real.mkdir(mode=0o700)
    (env / "link").symlink_to(real, target_is_directory=True)
    monkeypatch.setenv("OPTBRIDGE_CACHE_DIR", str(env / "link"))
    path = _build(source)
    assert path.parent.parent == real  # the resolved path: what was checked is what is loaded


def test_losing_the_build_race_uses_the_other_processs_library(env, source):
    """Another process renames its complete entry into place first: ours is discarded."""
    winner = _build(source)
    entry = winner.parent
    stamp = winner.stat().st_mtime_ns
    moved = entry.with_name("moved")
    entry.rename(moved)

    def command(cxx, out):
        moved.rename(entry)  # the other process finishes while this one compiles
        return [cxx, "-shared", "-fPIC", '-DMESSAGE="x\\n"', "-o", out, str(source)]

    path = native_build.cached_build("probe", source, "probe.so", ("-shared",), ["v1"], command)
    assert path == winner and path.stat().st_mtime_ns == stamp
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # our staging directory is gone


def test_prebuild_builds_and_says_where_or_why_not(env, source, monkeypatch):
    out = io.StringIO()
    library = _library(source)
    assert native_build.prebuild(library, out) == 0
    assert out.getvalue().startswith("optbridge: probe library ready in ")
    assert out.getvalue().rstrip().endswith(f": {library.path()}")
    monkeypatch.setenv(SWITCH, "0")
    out = io.StringIO()
    assert native_build.prebuild(_library(source), out) == 1
    assert out.getvalue() == "optbridge: probe library switched off (OPTBRIDGE_TEST_LIBRARY=0); nothing built\n"
    monkeypatch.delenv(SWITCH)
    library.path().chmod(0o777)
    out = io.StringIO()
    assert native_build.prebuild(_library(source), out) == 1
    assert "unavailable: UntrustedLibraryError: refusing to load" in out.getvalue()
    assert "is writable by group or others (mode 0777)" in out.getvalue()
