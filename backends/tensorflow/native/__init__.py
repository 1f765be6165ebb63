"""optbridge's single-pass TensorFlow CPU kernels, compiled on first use.

TensorFlow's fused training ops (``tf.raw_ops.ResourceApplyAdam`` ...) form constants such
as ``1 − β`` themselves and fix one formula each, so most canonical variants (Keras' Adam,
whose ``1 − β`` is rounded from float64; Keras' ε inside the square root; every
``weight_decay_form``) would need a chain of TensorFlow ops, one pass over memory each.
``optbridge_tf_ops.cc`` holds three custom ops — ``OptbridgeAdam``, ``OptbridgeRMSProp``
and ``OptbridgeAdagrad`` — that update a variable and its slots in one pass, evaluating the
canonical op order of their algorithm element by element with every operation rounded
separately (compiled with ``-ffp-contract=off``; ``sqrt`` and division are correctly
rounded), so their results are bit for bit those of the NumPy reference backend in the
same dtype (the TensorFlow-op kernels differ from it by a few ulps where Grappler rewrites
``x/√y`` as ``x·rsqrt(y)``).

The library is built with the C++ compiler TensorFlow's headers need
(``tf.sysconfig.get_compile_flags()``, ``get_link_flags()``) the first time a kernel asks
for it, about 20 s, and cached under ``$OPTBRIDGE_CACHE_DIR`` (default
``~/.cache/optbridge``) in a directory keyed by the source, the TensorFlow version and the
compiler, so later processes load it in milliseconds. Set ``OPTBRIDGE_TF_NATIVE=0`` to
never build or load it; without a compiler, or when the build fails, :func:`load` returns
``None`` after one warning that says why, and the kernels use TensorFlow ops.

The ops have CPU kernels only; the optimizer uses them for buckets whose variables all
live on CPU devices.
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
from typing import Any

__all__ = ["SOURCE", "ENV_SWITCH", "cache_dir", "enabled", "load", "build_error"]

SOURCE = Path(__file__).with_name("optbridge_tf_ops.cc")
ENV_SWITCH = "OPTBRIDGE_TF_NATIVE"
_FLAGS = ("-shared", "-fPIC", "-O3", "-ffp-contract=off", "-fno-math-errno", "-Wno-deprecated-declarations")

_lock = threading.Lock()
_state: dict[str, Any] = {}


def enabled() -> bool:
    """Whether native kernels may be used (``OPTBRIDGE_TF_NATIVE`` is not ``0``/``false``/``off``)."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "off", "no")


def cache_dir() -> Path:
    """Where built libraries are kept: ``$OPTBRIDGE_CACHE_DIR`` or ``~/.cache/optbridge``."""
    root = os.environ.get("OPTBRIDGE_CACHE_DIR")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "optbridge"


def build_error() -> str | None:
    """Why the library is not available in this process (``None`` if it is, or was not tried)."""
    return _state.get("error")


def _cpu_flags() -> tuple[str, ...]:
    """``-mavx2`` where the CPU has AVX2 (twice the vector width of the x86-64 baseline,
    which the 25.6M-element Adam step needs to beat TensorFlow's own op); never ``-mfma``."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return ("-mavx2",) if "avx2" in line.split() else ()
    except OSError:
        pass
    return ()


def _compiler() -> str | None:
    return os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")


def _library_path(tf: Any, compiler: str, version: str, flags: tuple[str, ...]) -> Path:
    key = hashlib.sha256()
    for part in (SOURCE.read_bytes(), tf.__version__.encode(), compiler.encode(), version.encode(),
                 " ".join(flags).encode(), platform.machine().encode(), sys.version.encode()):
        key.update(part)
        key.update(b"\0")
    return cache_dir() / f"tf-native-{key.hexdigest()[:16]}" / "optbridge_tf_ops.so"


def _build(tf: Any, compiler: str, flags: tuple[str, ...], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    command = [compiler, *flags, *tf.sysconfig.get_compile_flags(), "-o", partial, str(SOURCE),
               *tf.sysconfig.get_link_flags()]
    try:
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def load() -> Any:
    """The loaded op module (``optbridge_adam``, ``optbridge_rms_prop``, ``optbridge_adagrad``), or ``None``.

    Builds the library on first use (see the module docstring). Thread-safe; the outcome
    is remembered for the process.
    """
    if not enabled():
        return None
    with _lock:
        if "module" in _state:
            return _state["module"]
        module = None
        try:
            import tensorflow as tf

            compiler = _compiler()
            if compiler is None:
                raise RuntimeError("no C++ compiler found (set CXX or install g++)")
            version = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout
            flags = _FLAGS + _cpu_flags()
            target = _library_path(tf, compiler, version, flags)
            if not target.exists():
                _build(tf, compiler, flags, target)
            module = tf.load_op_library(str(target))
        except Exception as exc:  # any failure means: use the TensorFlow-op kernels
            _state["error"] = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"optbridge: native TensorFlow kernels unavailable, using TensorFlow ops "
                          f"({_state['error'].splitlines()[0]})", RuntimeWarning, stacklevel=2)
        _state["module"] = module
        return module
