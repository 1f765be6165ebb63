"""Weight decay: who applies it and which formula (DIALECTS.md D3).

Two names, two questions:

* ``weight_decay_applied_by`` (every algorithm; a class attribute or, through
  :class:`DecayAppliedBy`, derived from the form) — ``"pipeline"``: the gradient
  pre-processing adds ``wd·p`` to the gradient before the rule runs
  (:mod:`optbridge.preprocess`); ``"rule"``: the algorithm's own update rule consumes
  ``scalars["weight_decay"]``.
* ``weight_decay_form`` (a hyperparameter of the algorithms that have several) — which
  formula:

  * ``"coupled"`` -- L2 in the gradient, ``g ← g + wd·p``, applied by the pipeline (torch
    ``Adam``/``SGD``, every MindSpore ``nn`` optimizer);
  * ``"decoupled"`` -- torch ``AdamW``/``decoupled_weight_decay=True``:
    ``p ← p·(1 − lr·wd)`` before the update, ``1 − lr·wd`` a host scalar (``decay``);
  * ``"keras"`` -- Keras 3 ``BaseOptimizer._apply_weight_decay``: ``p ← p − (p·wd)·lr``
    before the update, ``wd`` and ``lr`` in the parameter's dtype.

  ``"decoupled"`` and ``"keras"`` are applied by the rule (:func:`apply_rule_decay`), at
  every step.
"""
from __future__ import annotations

from typing import Any

__all__ = ["WEIGHT_DECAY_FORMS", "DecayAppliedBy", "apply_rule_decay", "applied_by", "decay_scalars",
           "declared_decay_scalars", "check_choice", "without_rule_decay"]

WEIGHT_DECAY_FORMS = ("coupled", "decoupled", "keras")


def check_choice(algorithm: str, field: str, value: Any, choices: tuple) -> None:
    """Refuse a flag value outside ``choices``, naming the algorithm and field."""
    if value not in choices:
        raise ValueError(f"canonical {algorithm!r}: {field} must be one of {list(choices)}. Received: {value!r}")


def applied_by(form: str) -> str:
    """Who applies a ``weight_decay_form``: ``"pipeline"`` for ``"coupled"``, else ``"rule"``."""
    return "pipeline" if form == "coupled" else "rule"


def decay_scalars(form: str, lr: float, weight_decay: float) -> dict[str, float]:
    """Host scalars of the rule-side forms: ``decay = 1 − lr·wd`` (float64, as torch)."""
    if form == "decoupled":
        return {"decay": 1.0 - lr * weight_decay}
    return {}


def declared_decay_scalars(form: str) -> dict[str, str]:
    """The names :func:`decay_scalars` produces for ``form`` (see ``Algorithm.declared_scalars``)."""
    return {"decay": "number"} if form == "decoupled" else {}


def apply_rule_decay(ops: Any, form: str, p: Any, scalars: Any) -> Any:
    """Step 0 of a rule with a rule-side form; returns the parameter to use from then on.

    ``"decoupled"``: ``p ← p·decay``; ``"keras"``: ``p ← p − (p·wd)·lr``; other forms:
    nothing. Applied at every step, also when ``wd`` is 0 (then it leaves every finite
    ``p`` unchanged), as torch ``AdamW`` and Keras do, so no backend branches on a value.
    """
    if form == "decoupled":
        return ops.mul_(p, scalars["decay"])
    if form == "keras":
        wd, lr = scalars["weight_decay"], scalars["lr"]
        return ops.blockwise_(lambda x, decay: ops.sub_scaled_(x, decay, lr), p, lambda p: p * wd, p)
    return p


def without_rule_decay(algorithm: Any) -> Any:
    """``algorithm`` with ``weight_decay_form="coupled"`` when it has a rule-side form that
    allows it, else ``algorithm`` itself.

    The engine uses it for a bucket that is decayed at no step (excluded by the decay
    filter, or the group's weight decay is a static 0): the rule then skips step 0, as
    Keras applies no decay to an excluded variable, and the coupled form adds nothing
    because the pipeline's decay is 0 for such a bucket. Every finite parameter gets the
    same numbers either way; an ``inf`` stays ``inf`` instead of becoming NaN through
    ``p·0``.
    """
    form = getattr(algorithm, "weight_decay_form", "coupled")
    if form == "coupled":
        return algorithm
    try:
        return algorithm.replace(weight_decay_form="coupled")
    except (TypeError, ValueError):
        return algorithm


class DecayAppliedBy:
    """Descriptor for ``weight_decay_applied_by`` of algorithms with a ``weight_decay_form``.

    On an instance: :func:`applied_by` of its form (so a per-group override of the form
    moves the decay between pipeline and rule); on the class: that of the default form,
    ``"pipeline"``.
    """

    def __get__(self, obj: Any, owner: Any = None) -> str:
        return "pipeline" if obj is None else applied_by(obj.weight_decay_form)
