"""``keras.optimizers.Muon`` (Keras 3.15), lowered to canonical ``muon``.

Keras's update (``keras/src/optimizers/muon.py``): after the weight decay of its own
``_apply_weight_decay`` (``p ← p − (p·wd)·lr``, ``wd`` = ``weight_decay`` on the Muon
variables, ``adam_weight_decay`` on the AdamW ones, ``lr`` the learning rate), a 2-D
variable that is not an embedding (``exclude_embeddings``: ``"embedding"`` in its path)
nor matched by ``exclude_layers`` (``re.search`` on its path) takes the Muon step

.. math::
    m ← m + (g + m·(μ − 1));\\quad U = g + μ·m\\ (\\text{nesterov})\\ \\text{else}\\ m;\\quad
    p ← p − ((lr·\\mathrm{NS}_5(U))·\\sqrt{\\max(A, B)})·\\mathrm{rms\\_rate}

(the Newton–Schulz iterations in the variable's dtype, ``X/(‖X‖ + 1e-7)`` first); every
other variable takes Keras's Adam step at ``lr·adam_lr_ratio`` with ``adam_beta_1``,
``adam_beta_2`` and ``epsilon``. Canonical flags: ``arithmetic="keras"``,
``weight_decay_form="keras"``, ``adjust_lr="rms_rate"`` (``rms_rate=None``: ``"none"``).

Dialect notes (Keras source): Keras keeps ``velocity`` only for the AdamW variables;
here every variable has one (zeros on the Muon ones). Keras decays the AdamW variables
by ``adam_weight_decay`` even when ``weight_decay`` is ``None`` or 0; optbridge's
weight decay is the group's, so that combination (``weight_decay`` ``None``/0 with a
nonzero ``adam_weight_decay``) is refused with ``NotImplementedError``.
"""
from __future__ import annotations

import re
from typing import Any

from ....algorithms.muon import Muon as CanonicalMuon
from ....errors import SpecTypeError, SpecValueError
from ...base import register_dialect
from ._base import KerasOptimizer, check_flag, check_number

__all__ = ["Muon"]


@register_dialect
class Muon(KerasOptimizer):
    """Muon with an AdamW step for the other variables, as ``keras.optimizers.Muon``.

    Raises:
        ValueError: ``learning_rate`` not a float or a schedule; an ``exclude_layers``
            entry that is not a regular expression; the base optimizer's checks and
            unmodelled arguments (see :mod:`._base`).
        TypeError: a hyperparameter that is not a number, a flag that is not a bool.
        NotImplementedError: ``weight_decay`` ``None``/0 with a nonzero ``adam_weight_decay``.
    """

    qualname = "keras.optimizers.Muon"
    cls_name = "Muon"
    hyperparameters = ("adam_beta_1", "adam_beta_2", "adam_weight_decay", "epsilon", "exclude_layers",
                       "exclude_embeddings", "muon_a", "muon_b", "muon_c", "adam_lr_ratio", "momentum", "ns_steps",
                       "nesterov", "rms_rate")

    def __init__(self, learning_rate: Any = 0.001, adam_beta_1: float = 0.9, adam_beta_2: float = 0.999,
                 adam_weight_decay: Any = 0.004, epsilon: float = 1e-7, weight_decay: Any = 0.004,
                 clipnorm: Any = None, clipvalue: Any = None, global_clipnorm: Any = None, use_ema: bool = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: Any = None, loss_scale_factor: Any = None,
                 gradient_accumulation_steps: Any = None, name: Any = None, exclude_layers: Any = None,
                 exclude_embeddings: bool = True, muon_a: float = 3.4445, muon_b: float = -4.7750,
                 muon_c: float = 2.0315, adam_lr_ratio: float = 1, momentum: float = 0.95, ns_steps: int = 5,
                 nesterov: bool = True, rms_rate: Any = 0.2, *, params: Any = None, unassigned: str = "error",
                 exclude_from_weight_decay: Any = None, **kwargs: Any):
        self._init_keras(locals(), kwargs)
        if weight_decay in (None, 0) and adam_weight_decay not in (None, 0):
            raise NotImplementedError(
                f"keras.optimizers.Muon decays its AdamW variables by adam_weight_decay={adam_weight_decay} even "
                f"with weight_decay={weight_decay}; optbridge applies the group's weight decay, so give a nonzero "
                f"weight_decay or adam_weight_decay=None")

    def _check(self, hp: dict[str, Any], where: str) -> None:
        for key in ("adam_beta_1", "adam_beta_2", "epsilon", "muon_a", "muon_b", "muon_c", "adam_lr_ratio",
                    "momentum"):
            check_number(key, hp[key], where)
        for key in ("adam_weight_decay", "rms_rate"):
            if hp[key] is not None:
                check_number(key, hp[key], where)
        check_flag("exclude_embeddings", hp["exclude_embeddings"], where)
        check_flag("nesterov", hp["nesterov"], where)
        steps = hp["ns_steps"]
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
            raise SpecTypeError(f"{where}`ns_steps` must be a non-negative int. Received: ns_steps={steps!r}")
        layers = hp["exclude_layers"] or []
        if isinstance(layers, str) or not isinstance(layers, (list, tuple)):
            raise SpecTypeError(f"{where}`exclude_layers` must be a list of strings. Received: {layers!r}")
        for i, pattern in enumerate(layers):
            try:
                re.compile(pattern)
            except (re.error, TypeError) as exc:
                raise SpecValueError(f"{where}`exclude_layers[{i}]` is not a valid regular expression: "
                                     f"{pattern!r} ({exc})") from None

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalMuon:
        rms_rate = hp["rms_rate"]
        adam_wd = hp["adam_weight_decay"]
        return CanonicalMuon(
            momentum=float(hp["momentum"]), nesterov=bool(hp["nesterov"]), ns_a=float(hp["muon_a"]),
            ns_b=float(hp["muon_b"]), ns_c=float(hp["muon_c"]), ns_steps=int(hp["ns_steps"]), eps=1e-7,
            adjust_lr="none" if rms_rate is None else "rms_rate", rms_rate=0.2 if rms_rate is None else float(rms_rate),
            arithmetic="keras", weight_decay_form="keras", exclude_embeddings=bool(hp["exclude_embeddings"]),
            exclude_layers=tuple(hp["exclude_layers"] or ()), adam_beta_1=float(hp["adam_beta_1"]),
            adam_beta_2=float(hp["adam_beta_2"]), adam_epsilon=float(hp["epsilon"]),
            adam_lr_ratio=float(hp["adam_lr_ratio"]), adam_weight_decay=None if adam_wd is None else float(adam_wd))
