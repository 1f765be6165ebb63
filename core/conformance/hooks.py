"""The conversion hooks the conformance suite needs from a backend under test."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ..errors import BackendError
from ..plugin import Backend


class Hooks(NamedTuple):
    """``make_params``, ``to_numpy`` and ``grads_from_numpy`` of a :class:`~optbridge.plugin.Backend`."""

    make_params: Callable[..., Any]
    to_numpy: Callable[..., Any]
    grads_from_numpy: Callable[..., Any]


def hooks(backend: Backend) -> Hooks:
    """The backend's three conversion hooks.

    Raises:
        BackendError: the backend leaves one of them unset, so the suite cannot run it.
    """
    make_params, to_numpy, grads_from_numpy = backend.make_params, backend.to_numpy, backend.grads_from_numpy
    if make_params is None or to_numpy is None or grads_from_numpy is None:
        missing = [name for name in Hooks._fields if getattr(backend, name) is None]
        raise BackendError(f"backend {backend.name!r} does not set {', '.join(missing)}: the conformance suite "
                           f"converts parameters and gradients through them")
    return Hooks(make_params, to_numpy, grads_from_numpy)
