"""Weight-decay forms shared by canonical algorithms (DIALECTS.md D3).

An algorithm with a ``weight_decay_form`` field declares one of

* ``"coupled"`` -- L2 in the gradient, ``g ← g + wd·p``, done by the engine's
  pre-processing (torch ``Adam``/``SGD``, every MindSpore ``nn`` optimizer);
* ``"decoupled"`` -- torch ``AdamW``/``decoupled_weight_decay=True``:
  ``p ← p·(1 − lr·wd)`` before the update, ``1 − lr·wd`` a host scalar (``decay``);
* ``"keras"`` -- Keras 3 ``BaseOptimizer._apply_weight_decay``: ``p ← p − (p·wd)·lr``
  before the update, ``wd`` and ``lr`` in the parameter's dtype.

``"decoupled"`` and ``"keras"`` are applied by the kernel (``weight_decay_mode ==
"kernel"``), only when ``wd != 0``.
"""
from __future__ import annotations

from typing import Any

__all__ = ["WEIGHT_DECAY_FORMS", "WeightDecayMode", "apply_kernel_decay", "decay_mode", "decay_scalars", "check_choice"]

WEIGHT_DECAY_FORMS = ("coupled", "decoupled", "keras")


def check_choice(algorithm: str, field: str, value: Any, choices: tuple) -> None:
    """Refuse a flag value outside ``choices``, naming the algorithm and field."""
    if value not in choices:
        raise ValueError(f"canonical {algorithm!r}: {field} must be one of {list(choices)}. Received: {value!r}")


def decay_mode(form: str) -> str:
    """The engine's ``weight_decay_mode`` for a ``weight_decay_form``."""
    return "coupled" if form == "coupled" else "kernel"


def decay_scalars(form: str, lr: float, weight_decay: float) -> dict[str, float]:
    """Host scalars of the kernel-side forms: ``decay = 1 − lr·wd`` (float64, as torch)."""
    if form == "decoupled":
        return {"decay": 1.0 - lr * weight_decay}
    return {}



class WeightDecayMode:
    """Descriptor for ``weight_decay_mode`` of algorithms with a ``weight_decay_form`` field.

    On an instance: :func:`decay_mode` of its form (so a per-group override of the form
    switches coupling); on the class: the mode of the default form, ``"coupled"``.
    """

    def __get__(self, obj, owner=None) -> str:
        return "coupled" if obj is None else decay_mode(obj.weight_decay_form)


def apply_kernel_decay(ops: Any, form: str, p: Any, scalars: Any) -> Any:
    """Step 0 of a rule with a kernel-side form; returns the parameter to use from then on.

    ``"decoupled"``: ``p ← p·decay``; ``"keras"``: ``p ← p − (p·wd)·lr``; other forms:
    nothing. Applied at every step, also when ``wd`` is 0 (then it leaves every finite
    ``p`` unchanged), as torch ``AdamW`` and Keras do, so no backend branches on a value.
    """
    if form == "decoupled":
        return ops.mul_(p, scalars["decay"])
    if form == "keras":
        return ops.sub_scaled_(p, p * scalars["weight_decay"], scalars["lr"])
    return p
