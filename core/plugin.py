"""The plugin door: pluggy hookspecs, backend discovery and the backend registry.

Project name and entry-point group: ``optbridge``. Every hook returns data and has no side
effects (DESIGN.md section 6). Built-in backends register through the same entry points as
third-party ones. A broken plugin (import error, unknown hook, a hook that raises) is
reported by name in :func:`broken_plugins` and skipped; the others keep working.

Environment:
    ``OPTBRIDGE_PLUGINS`` — comma-separated entry-point names to load (unset: all). Use
    it for hermetic tests, e.g. ``OPTBRIDGE_PLUGINS=numpy``.
"""
from __future__ import annotations

import inspect
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from .errors import BackendError, SpecTypeError

__all__ = [
    "hookspec",
    "hookimpl",
    "Backend",
    "check_build_options",
    "HookSpecs",
    "PluginFailure",
    "get_plugin_manager",
    "backends",
    "get_backend",
    "broken_plugins",
    "detect_backend",
    "reset",
    "ENTRY_POINT_GROUP",
    "PLUGINS_ENV",
]

ENTRY_POINT_GROUP = "optbridge"
PLUGINS_ENV = "OPTBRIDGE_PLUGINS"

hookspec = pluggy.HookspecMarker("optbridge")
hookimpl = pluggy.HookimplMarker("optbridge")


@dataclass
class Backend:
    """What a backend plugin provides.

    Attributes:
        name: backend name (``"numpy"``, ``"torch"``, ...).
        build: ``build(spec, params, kernels, **options) -> optimizer``; ``spec`` is
            canonical, ``kernels`` maps algorithm names to kernels (built-in plus
            plugin-added); ``options`` are the keyword arguments a user gave
            ``optbridge.build`` beyond ``backend``, checked against ``build``'s signature
            first (:func:`check_build_options`), so a backend without options declares none.
        ops: the backend's ops namespace (:mod:`optbridge.ops`), or ``None``. With it the
            backend runs every algorithm that defines a shared rule
            (``Algorithm.has_rule()``), and ``kernels`` are optional fast paths.
        kernels: the backend's own ``{algorithm name: kernel}``: fast paths, and the only
            way to run an algorithm without a shared rule (or on a backend without ops).
        dtypes: parameter dtypes the backend supports (names, e.g. ``"float32"``).
        version: the framework's version, shown in reports.
        unsupported: ``{algorithm name: reason}`` the backend declares it cannot run.
        make_params: ``make_params({name: float64 ndarray}, dtype) -> params`` builds the
            backend's own parameters from NumPy data (used by the conformance suite).
        to_numpy: ``to_numpy(params) -> {name: ndarray}`` reads parameters back.
        grads_from_numpy: converts ``{name: ndarray}`` gradients for ``step``.
        plugin: filled in by optbridge: the name of the plugin that provided it.
        functional: ``True`` when the optimizer's ``step(grads)`` returns the new
            parameters instead of updating ``params`` in place (JAX-style backends); the
            conformance suite then reads the parameters from what ``step`` returned.
        expected_failures: the backend's strict expected failures in the conformance
            suite, ``{case id or error-input id: reason}`` (a key ``"<case id>:<dtype>"``
            limits one to a dtype). A listed case or error input that passes is reported
            (``XPASS(strict)``).
    """

    name: str
    build: Callable[..., Any]
    kernels: Mapping[str, Any] = field(default_factory=dict)
    ops: Any = None
    dtypes: tuple[str, ...] = ("float32", "float64")
    version: str = ""
    unsupported: Mapping[str, str] = field(default_factory=dict)
    make_params: Callable[..., Any] | None = None
    to_numpy: Callable[..., Any] | None = None
    grads_from_numpy: Callable[..., Any] | None = None
    plugin: str = ""
    functional: bool = False
    expected_failures: Mapping[str, str] = field(default_factory=dict)

    def runs(self, algorithm: str) -> bool:
        """Whether the backend can run the canonical algorithm named ``algorithm``: it has a
        kernel for it, or an ops namespace and the algorithm a shared rule; never when it
        declares the algorithm ``unsupported``."""
        if algorithm in self.unsupported:
            return False
        if algorithm in self.kernels:
            return True
        from .algorithms import algorithm_registry

        cls = algorithm_registry.get(algorithm)
        return self.ops is not None and cls is not None and cls.has_rule()

    def runnable(self) -> list[str]:
        """The registered canonical algorithms the backend runs, sorted."""
        from .algorithms import algorithm_registry

        return sorted(name for name in algorithm_registry if self.runs(name))


class HookSpecs:
    """Hook specifications of the ``optbridge`` project."""

    # (a specification has no body: pluggy calls the plugins' implementations, hence empty-body)

    @hookspec
    def optbridge_backends(self) -> list[Backend]:  # type: ignore[empty-body]
        """Return the backends this plugin provides."""

    @hookspec
    def optbridge_kernels(self, backend: str) -> Mapping[str, Callable[..., Any]]:  # type: ignore[empty-body]
        """Return ``{algorithm name: kernel}`` to add to the existing backend ``backend``."""

    @hookspec
    def optbridge_algorithms(self) -> list[type]:  # type: ignore[empty-body]
        """Return new canonical algorithm classes (registered by their ``name``)."""

    @hookspec
    def optbridge_schedules(self) -> list[type]:  # type: ignore[empty-body]
        """Return new schedule classes (registered by their ``kind``)."""

    @hookspec(firstresult=True)
    def optbridge_detect_backend(self, params: Any) -> str | None:
        """Return the name of the backend that owns these parameters, or ``None``."""

    @hookspec
    def optbridge_adapters(self) -> Mapping[str, Callable[..., Any]]:  # type: ignore[empty-body]
        """Return ``{adapter name: factory}``: framework-native optimizers built from a spec.

        ``factory(spec, **options)`` returns the framework's own optimizer object running
        ``spec`` (``"keras"``: a ``keras.optimizers.Optimizer``, which ``optbridge.keras``
        returns). The results of all plugins are merged; for a name several plugins give,
        the first in the plugin manager's order is used. Answering the hook must not
        import the framework: the factory imports it when called, and ``optbridge.keras``
        turns an ``ImportError`` the factory raises into a ``BackendError`` naming the
        extra to install.
        """


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be used: its name, where it failed and why."""

    plugin: str
    stage: str
    error: str


class _State:
    def __init__(self) -> None:
        self.pm: pluggy.PluginManager | None = None
        self.failures: list[PluginFailure] = []
        self.backends: dict[str, Backend] | None = None
        self.lock = threading.RLock()


_state = _State()


def _wanted() -> set[str] | None:
    raw = os.environ.get(PLUGINS_ENV)
    if raw is None or not raw.strip():
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _entry_points() -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, loading entry points on first use."""
    with _state.lock:
        if _state.pm is not None:
            return _state.pm
        pm = pluggy.PluginManager("optbridge")
        pm.add_hookspecs(HookSpecs)
        wanted = _wanted()
        seen: set[str] = set()
        for ep in _entry_points():
            if ep.name in seen or (wanted is not None and ep.name not in wanted):
                continue
            seen.add(ep.name)
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not take the others down
                _state.failures.append(PluginFailure(ep.name, "import", f"{type(exc).__name__}: {exc}"))
                continue
            try:
                pm.register(plugin, name=ep.name)
                pm.check_pending()
            except Exception as exc:
                if pm.is_registered(plugin):
                    pm.unregister(plugin)
                _state.failures.append(PluginFailure(ep.name, "register", f"{type(exc).__name__}: {exc}"))
        _state.pm = pm
        _register_extensions(pm)
        return pm


def _call_each(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call every implementation of a hook on its own, recording failures by plugin."""
    results: list[tuple[str, Any]] = []
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        try:
            results.append((impl.plugin_name, impl.function(**{k: kwargs[k] for k in impl.argnames})))
        except Exception as exc:
            _state.failures.append(PluginFailure(impl.plugin_name, hook_name, f"{type(exc).__name__}: {exc}"))
    return results


def _register_extensions(pm: pluggy.PluginManager) -> None:
    from .algorithms.base import register_algorithm
    from .schedules.base import register_schedule

    for plugin, classes in _call_each(pm, "optbridge_algorithms"):
        for cls in classes or ():
            try:
                register_algorithm(cls)
            except Exception as exc:
                _state.failures.append(PluginFailure(plugin, "optbridge_algorithms", f"{type(exc).__name__}: {exc}"))
    for plugin, classes in _call_each(pm, "optbridge_schedules"):
        for cls in classes or ():
            try:
                register_schedule(cls)
            except Exception as exc:
                _state.failures.append(PluginFailure(plugin, "optbridge_schedules", f"{type(exc).__name__}: {exc}"))


def backends() -> dict[str, Backend]:
    """Installed, working backends by name (kernels from ``optbridge_kernels`` merged in)."""
    with _state.lock:
        if _state.backends is not None:
            return _state.backends
        pm = get_plugin_manager()
        found: dict[str, Backend] = {}
        for plugin, provided in _call_each(pm, "optbridge_backends"):
            for backend in provided or ():
                if not isinstance(backend, Backend):
                    _state.failures.append(
                        PluginFailure(plugin, "optbridge_backends", f"returned {type(backend).__name__}, not Backend")
                    )
                    continue
                if backend.name in found:
                    _state.failures.append(
                        PluginFailure(plugin, "optbridge_backends",
                                      f"backend {backend.name!r} is already provided by {found[backend.name].plugin!r}")
                    )
                    continue
                backend.plugin = plugin
                backend.kernels = dict(backend.kernels)
                found[backend.name] = backend
        for name, backend in found.items():
            kernels = dict(backend.kernels)
            for _plugin, extra in _call_each(pm, "optbridge_kernels", backend=name):
                if extra:
                    kernels.update(dict(extra))
            backend.kernels = kernels
        _state.backends = found
        return found


def broken_plugins() -> list[PluginFailure]:
    """Plugins that failed to import, register, or answer a hook, each failure once.

    A hook asked once per backend (``optbridge_kernels``) that fails the same way for
    every backend is one failure, not one per backend.
    """
    backends()
    return list(dict.fromkeys(_state.failures))


def get_backend(name: str) -> Backend:
    """The installed backend called ``name``.

    Raises:
        BackendError: no such backend, listing the installed ones and broken plugins.
    """
    found = backends()
    if name not in found:
        broken = ", ".join(f"{f.plugin} ({f.error})" for f in _state.failures) or "none"
        extra = _BUILTIN_EXTRAS.get(name)
        hint = f" (it comes with the extra: pip install \"optbridge[{extra}]\")" if extra else ""
        raise BackendError(
            f"no backend named {name!r} is installed{hint}. Installed: {sorted(found) or 'none'}; "
            f"broken plugins: {broken}"
        )
    return found[name]


def check_build_options(backend: Backend, options: Mapping[str, Any]) -> None:
    """Check that ``backend.build`` takes every keyword in ``options`` (``optbridge.build``'s
    extra keywords), before anything is built.

    Raises:
        SpecTypeError: an option ``build`` has no parameter for, naming the options it has.
    """
    try:
        signature = inspect.signature(backend.build)
    except (TypeError, ValueError):  # a builtin or C callable: let it check for itself
        return
    parameters = list(signature.parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    taken = [p.name for p in parameters[3:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(set(options) - set(taken))
    if unknown:
        raise SpecTypeError(f"backend {backend.name!r} takes no build option {', '.join(map(repr, unknown))}; its "
                            f"options: {', '.join(map(repr, taken)) or 'none'}")


#: Built-in backends whose framework is an optional extra of the distribution.
_BUILTIN_EXTRAS = {"torch": "torch", "tensorflow": "tensorflow"}


def detect_backend(params: Any) -> str:
    """Ask the plugins which backend owns ``params``.

    Raises:
        BackendError: no plugin recognises the parameters.
    """
    backends()
    for _plugin, answer in _call_each(get_plugin_manager(), "optbridge_detect_backend", params=params):
        if answer:
            return answer
    raise BackendError(
        f"no installed backend recognises parameters of type {type(params).__name__}; "
        f"pass backend=... explicitly. Installed backends: {sorted(backends())}"
    )


def reset() -> None:
    """Forget loaded plugins (tests use it after changing ``OPTBRIDGE_PLUGINS``)."""
    with _state.lock:
        _state.pm = None
        _state.failures = []
        _state.backends = None
