"""Keras models saved with ``optbridge.keras(spec)`` load after ``import optbridge`` alone.

Keras 3 finds a saved custom optimizer by its registered name
(:data:`REGISTERED_NAME`) in its global registry
(``keras.src.saving.object_registration.GLOBAL_CUSTOM_OBJECTS``), filled when the class's
module is imported: in a fresh process that has not built a Keras optimizer,
``keras.saving.load_model`` raised ``TypeError: Could not locate class
'KerasOptimizer'``. Importing the adapter with optbridge would import TensorFlow with
every ``import optbridge``; instead :func:`register` puts :class:`SavedKerasOptimizer`
under that name: at once when Keras' registry is already imported, else right after
Keras imports it (a one-shot import hook that removes itself). Its ``from_config``
builds the optimizer through :func:`optbridge.keras`, so the class itself comes from the
plugin that provides the ``"keras"`` adapter (the TensorFlow backend), whose own
registration replaces the stand-in when it is imported.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

__all__ = ["REGISTERED_NAME", "SavedKerasOptimizer", "register"]

#: the name Keras saves the adapter under (``package>name`` of ``register_keras_serializable``)
REGISTERED_NAME = "optbridge>KerasOptimizer"
_REGISTRY_MODULE = "keras.src.saving.object_registration"


class SavedKerasOptimizer:
    """Keras' registry entry for :data:`REGISTERED_NAME` until the adapter class is imported."""

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Any:
        """The optimizer of a saved config: ``optbridge.keras(from_dict(config["spec"]), **options)``."""
        from . import keras
        from .config import from_dict

        options = dict(config)
        return keras(from_dict(options.pop("spec")), **options)


def _fill(registry: ModuleType) -> None:
    registry.GLOBAL_CUSTOM_OBJECTS.setdefault(REGISTERED_NAME, SavedKerasOptimizer)


class _AfterRegistryImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself; when Keras' registry module is imported, wraps its loader so
    that :class:`SavedKerasOptimizer` is registered as soon as the module has run."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _REGISTRY_MODULE:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            _fill(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def register() -> None:
    """Make ``keras.saving.load_model`` find optbridge's optimizer (idempotent)."""
    registry = sys.modules.get(_REGISTRY_MODULE)
    if registry is not None:
        _fill(registry)
    elif not any(isinstance(finder, _AfterRegistryImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterRegistryImport())
