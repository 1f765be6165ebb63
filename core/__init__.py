"""optbridge: write an optimizer configuration once, run it with the same numbers anywhere.

Public surface (DESIGN.md section 10)::

    import optbridge
    from optbridge.dialects.mindspore import nn
    spec = nn.Momentum(None, learning_rate=0.1, momentum=0.9)
    optbridge.plugin.backends()             # installed backends (``optbridge.backends`` is
                                            # the package of built-in backends)
    opt = optbridge.build(spec, {"w": w})   # NumPy: {name: ndarray}, updated in place
    opt.step({"w": grad})
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from . import keras_saving, plugin
from ._version import __version__
from .config import from_dict, load, save, to_dict
from .dialects import keras as _keras_dialect  # registers the dialect classes
from .dialects import mindspore as _mindspore_dialect  # registers the dialect classes
from .dialects import torch as _torch_dialect  # registers the dialect classes
from .dialects.base import DialectOptimizer
from .errors import BackendError, OptbridgeError
from .importers import from_keras, from_torch
from .plugin import check_build_options, detect_backend, get_backend
from .spec import GroupSpec, OptimizerSpec

__all__ = [
    "__version__",
    "build",
    "keras",
    "from_dict",
    "from_torch",
    "from_keras",
    "to_dict",
    "load",
    "save",
    "OptimizerSpec",
    "GroupSpec",
    "OptbridgeError",
    "plugin",
]

del _keras_dialect, _mindspore_dialect, _torch_dialect  # imported only to register the dialect classes

keras_saving.register()  # keras.saving.load_model finds optbridge's optimizer; TensorFlow is not imported


def build(spec: DialectOptimizer | OptimizerSpec, params: Any, backend: str | None = None, **options: Any) -> Any:
    """Bind a spec to named parameters and return the backend's optimizer.

    Args:
        spec: a dialect optimizer (``nn.Momentum(...)``) or a canonical spec.
        params: the backend's named parameters: NumPy ``{name: ndarray}``; torch
            ``model.named_parameters()`` (or ``model.parameters()`` with
            ``names=model``); TensorFlow variables. Or the model itself, a torch
            ``nn.Module`` or a Keras model: its parameters, named as above, each with
            its role (``{"role": ...}`` selectors, :mod:`optbridge.roles`) from its
            module's or layer's type.
        backend: a backend name; ``None`` asks the installed plugins which backend owns
            ``params``.
        **options: the backend's own build options, passed to its ``build`` (torch:
            ``names``, ``path``, ``flat``, ``state_dtype``, ``compile_threshold``; see the
            backend's documentation).

    Raises:
        BackendError: no backend recognises ``params`` or the named backend is missing,
            or the backend cannot run the algorithm (``Backend.runs``).
        SpecTypeError: an option the backend's ``build`` does not take (a ``TypeError``).
        GroupError: the groups do not resolve against the parameter names.
    """
    canonical = spec.to_canonical() if isinstance(spec, DialectOptimizer) else spec
    if not isinstance(canonical, OptimizerSpec):
        raise TypeError(f"build takes a dialect optimizer or an OptimizerSpec. Received: {type(spec).__name__}")
    if isinstance(params, Iterator) and not isinstance(params, Mapping):
        params = list(params)
    name = backend if backend is not None else detect_backend(params)
    chosen = get_backend(name)
    for algorithm in dict.fromkeys(a.name for a in canonical.group_algorithms()):
        if not chosen.runs(algorithm):
            reason = chosen.unsupported.get(algorithm, "no ops namespace or kernel runs it")
            raise BackendError(f"backend {name!r} cannot run algorithm {algorithm!r}: {reason}")
    if options:
        check_build_options(chosen, options)
    return chosen.build(canonical, params, chosen.kernels, **options)


def keras(spec: DialectOptimizer | OptimizerSpec, **options: Any) -> Any:
    """A ``keras.optimizers.Optimizer`` running ``spec`` on the TensorFlow backend.

    ``model.compile(optimizer=optbridge.keras(spec))``: ``model.fit`` then trains with
    optbridge's groups (selectors match Keras variable paths), schedules and kernels.
    The adapter is the ``"keras"`` factory a plugin provides through the
    ``optbridge_adapters`` hook (the TensorFlow backend's); TensorFlow is imported here,
    never when ``optbridge`` is imported.

    Args:
        spec: a dialect optimizer or a canonical spec.
        **options: ``jit_compile``, ``fused``, ``native``, ``name`` (see
            ``optbridge.backends.tensorflow.keras_adapter.KerasOptimizer``).

    Raises:
        BackendError: TensorFlow is not installed (or no installed plugin provides the
            Keras adapter).
    """
    needs = "optbridge.keras needs TensorFlow and Keras 3 (pip install optbridge[tensorflow])"
    # the first plugin giving "keras"; a plugin whose hook raises is reported (broken_plugins) and skipped
    provided = plugin._call_each(plugin.get_plugin_manager(), "optbridge_adapters")
    factory = next((adapters["keras"] for _, adapters in provided if adapters and "keras" in adapters), None)
    if factory is None:
        raise BackendError(f"{needs}: no installed plugin provides the 'keras' adapter")
    try:
        return factory(spec, **options)
    except ImportError as exc:
        raise BackendError(f"{needs}: {exc}") from exc

