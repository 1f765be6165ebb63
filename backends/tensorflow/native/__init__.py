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
for it, about 20 s after a logged notice (``python -m optbridge.backends.tensorflow.native``
builds it ahead of time), and cached under ``$OPTBRIDGE_CACHE_DIR`` (default
``~/.cache/optbridge``) in a directory keyed by the source, the TensorFlow version and the
compiler, so later processes load it in milliseconds — only from a directory and a file
that only the current user or root can write, with the SHA-256 recorded at its build
(:mod:`optbridge.native_build`). It is built at run time, not at install time, because it
links to TensorFlow's C++ symbols, which change between releases. Set
``OPTBRIDGE_TF_NATIVE=0`` to never build or load it; without a compiler, when the build
fails, or when the cached file fails a check, :func:`load` returns ``None`` after one
warning that says why, and the kernels use TensorFlow ops.

The ops have CPU kernels only; the optimizer uses them for buckets whose variables all
live on CPU devices.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from optbridge import native_build

__all__ = ["SOURCE", "ENV_SWITCH", "LIBRARY", "cache_dir", "enabled", "load", "build_error"]

SOURCE = Path(__file__).with_name("optbridge_tf_ops.cc")
ENV_SWITCH = "OPTBRIDGE_TF_NATIVE"
_FLAGS = ("-shared", "-fPIC", "-O3", "-ffp-contract=off", "-fno-math-errno", "-Wno-deprecated-declarations")

cache_dir = native_build.cache_dir


def _locate() -> Path:
    """Build (or find in the cache) and check the op library; ``-mavx2`` where the CPU has
    AVX2 (twice the vector width of the x86-64 baseline, which the 25.6M-element Adam step
    needs to beat TensorFlow's own op)."""
    import tensorflow as tf

    flags = _FLAGS + native_build.cpu_flags()
    return native_build.cached_build(
        "tf-native", SOURCE, "optbridge_tf_ops.so", flags, [tf.__version__],
        lambda cxx, out: [cxx, *flags, *tf.sysconfig.get_compile_flags(), "-o", out, str(SOURCE),
                          *tf.sysconfig.get_link_flags()],
        description="the native TensorFlow kernels", prebuild_command="python -m optbridge.backends.tensorflow.native")


def _open(path: Path) -> Any:
    import tensorflow as tf

    return tf.load_op_library(str(path))


#: The op library, located (built and checked) and loaded on first use.
LIBRARY = native_build.LazyLibrary("native TensorFlow kernels", ENV_SWITCH, "using TensorFlow ops", _locate, _open)
#: Whether native kernels may be used (``OPTBRIDGE_TF_NATIVE`` is not ``0``/``false``/``off``).
enabled = LIBRARY.enabled
#: Why the library is not available in this process (``None`` if it is, or was not tried).
build_error = LIBRARY.build_error
#: The loaded op module (``optbridge_adam``, ``optbridge_rms_prop``, ``optbridge_adagrad``), or
#: ``None``; builds the library on first use (see the module docstring).
load = LIBRARY.load
