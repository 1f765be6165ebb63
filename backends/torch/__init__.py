"""The PyTorch backend: ``Optimizer``, a ``torch.optim.Optimizer`` running canonical specs.

Registered through the ``optbridge`` entry-point group like any plugin. Without torch
installed the plugin provides no backend (it is not reported as broken).

Paths (see ``docs/backends-torch.md``): ``"auto"`` (default), ``"compiled"``,
``"native"``, ``"reference"``; ``flat=True`` for flat-buffer mode. The registered
``"torch"`` backend builds with ``OPTBRIDGE_TORCH_PATH`` (default ``auto``) and
``OPTBRIDGE_TORCH_FLAT=1``; :func:`backend` returns a :class:`~optbridge.plugin.Backend`
for one path, for ``optbridge.conformance.run_suite``.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from optbridge.plugin import Backend, hookimpl

try:
    import torch
except ImportError:  # torch is an optional extra: without it this plugin provides nothing
    torch = None  # type: ignore[assignment]  # checked below: without torch the plugin provides nothing

__all__ = ["Optimizer", "KERNELS", "backend", "PATHS"]

PATH_ENV = "OPTBRIDGE_TORCH_PATH"
FLAT_ENV = "OPTBRIDGE_TORCH_FLAT"

if torch is not None:
    from . import ops
    from .fast_paths import table
    from .graph import DEFAULT_HORIZON
    from .optimizer import COMPILE_THRESHOLD, Optimizer
    from .paths import PATHS

    #: ``{algorithm: FastPath}`` of the algorithms registered when the backend was imported
    KERNELS = table()

    _DTYPES = {"float32": torch.float32, "float64": torch.float64}

    def _make_params(values: Mapping[str, np.ndarray], dtype: str) -> dict[str, torch.Tensor]:
        return {k: torch.tensor(np.asarray(v), dtype=_DTYPES[dtype]) for k, v in values.items()}

    def _to_numpy(params: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy().copy() for k, v in params.items()}

    def _grads_from_numpy(grads: Mapping[str, np.ndarray], params: Mapping[str, torch.Tensor]) -> None:
        """Set each parameter's ``.grad`` (the torch optimizer reads them); ``step()`` takes no gradients."""
        for name, g in grads.items():
            p = params[name]
            p.grad = torch.tensor(np.asarray(g), dtype=p.dtype, device=p.device)
        return None

    #: Bad-gradient records whose premise torch's own ``.grad`` contract rules out: the
    #: torch optimizer takes no gradient argument, it reads ``.grad``.
    STEP_INPUT_EXPECTED_FAILURES = {
        "momentum-step_grad_shape": "torch refuses to assign a .grad of another shape (its own RuntimeError) "
                                    "before the optimizer runs",
        "sgd-step_grad_missing": "torch.optim semantics: a parameter whose .grad is None is skipped, not an error",
    }

    def backend(path: str | None = None, flat: bool | None = None) -> Backend:
        """The ``"torch"`` backend building optimizers on ``path`` (``None``: ``OPTBRIDGE_TORCH_PATH``).

        Pass it to ``optbridge.conformance.run_suite([backend("compiled")])`` to run the
        suite on one path.
        """
        def build(spec, params, kernels, *, names=None, path=path, flat=flat, state_dtype=None,
                  compile_threshold=COMPILE_THRESHOLD, capturable=False, horizon=DEFAULT_HORIZON):
            chosen = path if path is not None else os.environ.get(PATH_ENV, "auto")
            use_flat = flat if flat is not None else os.environ.get(FLAT_ENV, "") not in ("", "0")
            return Optimizer(params, spec, path=chosen, flat=use_flat, kernels=kernels, names=names,
                             state_dtype=state_dtype, compile_threshold=compile_threshold, capturable=capturable,
                             horizon=horizon)

        label = "" if path is None and flat is None else f" (path={path or 'env'}{', flat' if flat else ''})"
        from optbridge.algorithms import algorithm_registry

        kernels = table()
        missing = {name: "no update rule and no torch kernel: the canonical algorithm defines no rule on the "
                         "ops namespace (optbridge.ops)"
                   for name in algorithm_registry if name not in kernels}
        return Backend(
            unsupported=missing,
            name="torch",
            build=build,
            kernels=kernels,
            ops=ops,
            dtypes=("float32", "float64"),
            version=torch.__version__ + label,
            make_params=_make_params,
            to_numpy=_to_numpy,
            grads_from_numpy=_grads_from_numpy,
            expected_failures=STEP_INPUT_EXPECTED_FAILURES,
        )

    @hookimpl
    def optbridge_backends() -> list[Backend]:
        return [backend()]

    @hookimpl
    def optbridge_detect_backend(params: Any) -> str | None:
        if isinstance(params, torch.nn.Module):
            return "torch"
        if isinstance(params, Mapping):
            values = list(params.values())
        elif isinstance(params, (list, tuple)):
            values = [v[1] if isinstance(v, tuple) and len(v) == 2 else v for v in params]
        else:
            return None
        if values and all(isinstance(v, torch.Tensor) for v in values):
            return "torch"
        return None

else:
    def __getattr__(name: str) -> Any:
        if name in __all__:
            raise ImportError(f"optbridge.backends.torch.{name} needs PyTorch: pip install 'optbridge[torch]'")
        raise AttributeError(name)
