"""The three process-level checks every library built through ``optbridge.native_build`` passes.

A *probe* is Python source run in a fresh interpreter: it builds an optimizer that uses
the library, steps it, and prints lines ending with one holding the resulting numbers.
The checks: the environment switch builds nothing; a failing compiler warns exactly once
and gives the numbers of the switched-off run; a second process loads the cached build
instead of rebuilding it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def fresh_process(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


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
    reference = fresh_process(probe, {**env, switch: "0", "OPTBRIDGE_CACHE_DIR": str(tmp_path)})
    assert out.stdout.splitlines()[-1] == reference.stdout.splitlines()[-1]  # same numbers


def build_is_cached_across_processes(probe: str, env: dict[str, str], on_marker: str, built_glob: str,
                                     cache: Path) -> None:
    first = fresh_process(probe, {**env, "OPTBRIDGE_CACHE_DIR": str(cache)})
    assert first.returncode == 0 and on_marker in first.stdout, first.stderr + first.stdout
    (built,) = list(cache.glob(built_glob))
    stamp = built.stat().st_mtime_ns
    second = fresh_process(probe, {**env, "OPTBRIDGE_CACHE_DIR": str(cache)})
    assert on_marker in second.stdout, second.stderr + second.stdout
    assert built.stat().st_mtime_ns == stamp  # loaded, not rebuilt (a build replaces the file)
    assert list(cache.glob(str(Path(built_glob).parent / "*"))) == [built]  # one build, nothing beside it
    assert first.stdout.splitlines()[-1] == second.stdout.splitlines()[-1]
