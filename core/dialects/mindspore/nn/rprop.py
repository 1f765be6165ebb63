"""``mindspore.nn.Rprop`` (MindSpore 2.10), lowered to canonical ``rprop``.

MindSpore's update (``nn/optim/rprop.py``), the same numbers as torch's Rprop: with
``s = sign(g·g′)`` the step size grows by ``etaplus`` (``s > 0``), shrinks by
``etaminus`` (``s < 0``, and the gradient is then treated as 0) or stays, clipped to
``step_sizes``; ``w = w − sign(g)·Δ``. Every step size starts at the learning rate of the
first step (``global_step == 1``), later learning rates are never read.

``etas`` and ``step_sizes`` must be tuples, as in MindSpore: a list (or an array) raises
its ``TypeError``. Configuration files (JSON, TOML, YAML) have no tuples, so
:func:`optbridge.from_dict` turns their lists into tuples (``tuple_arguments``).
MindSpore's own type-check message for ``step_sizes`` names ``type(etas)`` (a bug in
``nn/optim/rprop.py``); this class repeats it, so the words stay MindSpore's.
"""
from __future__ import annotations

from numbers import Real
from typing import Any

from ....algorithms.rprop import Rprop as CanonicalRprop
from ....errors import SpecTypeError, SpecValueError
from ....spec import OptimizerSpec
from ...base import register_dialect
from ._base import MindSporeOptimizer, check_float_type
from ._validator import INC_NEITHER, check_float_range

__all__ = ["Rprop"]


@register_dialect
class Rprop(MindSporeOptimizer):
    """Resilient backpropagation, as ``mindspore.nn.Rprop`` (no ``loss_scale`` argument, as in MindSpore).

    Raises:
        TypeError: ``etas``/``step_sizes`` not a tuple (a list too); an element not float;
            base-class type errors.
        ValueError: ``etas``/``step_sizes`` not of length 2; minimal step size above the
            maximal one; ``etaminus`` outside (0, 1); ``etaplus`` <= 1; base range errors.
    """

    qualname = "mindspore.nn.Rprop"
    cls_name = "Rprop"
    tuple_arguments = ("etas", "step_sizes")

    def __init__(self, params: Any, learning_rate: Any = 0.1, etas: Any = (0.5, 1.2), step_sizes: Any = (1e-6, 50.),
                 weight_decay: Any = 0., *, unassigned: str = "error"):
        self._init_base(params, learning_rate, weight_decay, 1.0, unassigned)
        if not isinstance(etas, tuple):
            raise SpecTypeError(f"For Rprop, etas must be a tuple, but got {type(etas)}.")
        if len(etas) != 2:
            raise SpecValueError(f"For Rprop, etas must be a tuple with the size of 2, but got {len(etas)}.")
        if not isinstance(step_sizes, tuple):
            raise SpecTypeError(f"For Rprop, step_sizes must be a tuple, but got {type(etas)}.")
        if len(step_sizes) != 2:
            raise SpecValueError(
                f"For Rprop, step_sizes must be a tuple with the size of 2, but got {len(step_sizes)}."
            )
        for entry in step_sizes:
            if isinstance(entry, bool) or not isinstance(entry, Real):
                # MindSpore compares the two first and fails inside the comparison (a TypeError)
                raise SpecTypeError(f"For Rprop, step_sizes must hold two numbers, but got {step_sizes!r}.")
        if step_sizes[0] > step_sizes[1]:
            raise SpecValueError(
                "For Rprop, maximal step size should not be less than minimal step size, "
                f"but got {step_sizes[0]} > {step_sizes[1]}."
            )
        check_float_range(etas[0], 0.0, 1.0, INC_NEITHER, "etaminus", self.cls_name)
        check_float_type("etaplus", etas[1], self.cls_name)
        if etas[1] <= 1.0:
            raise SpecValueError(f"For Rprop, etaplus must be greater than 1.0, but got etaplus {etas[1]}.")
        check_float_type("min_step_sizes", step_sizes[0], self.cls_name)
        check_float_type("max_step_sizes", step_sizes[1], self.cls_name)
        self._record(dict(params=params, learning_rate=learning_rate, etas=tuple(etas), step_sizes=tuple(step_sizes),
                          weight_decay=weight_decay, unassigned=unassigned))

    def to_canonical(self) -> OptimizerSpec:
        a = self._arguments
        (etaminus, etaplus), (step_min, step_max) = a["etas"], a["step_sizes"]
        return self._lower(CanonicalRprop(etaminus=etaminus, etaplus=etaplus, step_size_min=step_min,
                                          step_size_max=step_max))
