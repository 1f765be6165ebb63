r"""``keras.optimizers.LossScaleOptimizer`` (Keras 3.15, ``keras/src/optimizers/loss_scale_optimizer.py``).

Wraps another Keras-dialect optimizer and lowers to its canonical spec with a dynamic
:class:`~optbridge.transforms.LossScale` (``form="keras"``) put first in the gradient
pipeline: the finite check on the scaled gradients, ``g / scale``, the inner optimizer's
whole step (its accumulation, clipping, decay, update and EMA) only when every gradient is
finite, then ``scale·2`` after ``dynamic_growth_steps`` finite steps in a row, ``scale·0.5``
and a skipped step (no ``iterations`` count) on a non-finite one. The inner optimizer's
``loss_scale_factor`` is dropped, as Keras sets it to ``None``. The loss to differentiate is
``optimizer.scale_loss(loss)`` (``loss · scale``), as Keras's trainers do.

Validation, in Keras's order and words (``ValueError``):

1. ``dynamic=False`` in ``kwargs``: "LossScaleOptimizer no longer supports
   `dynamic=False`. Instead, simply set `loss_scale_factor` directly on the
   `inner_optimizer`.";
2. a base optimizer argument (``weight_decay``, ``clipnorm``, ..., ``gradient_accumulation_steps``)
   other than its default: "LossScaleOptimizer does not support `<arg>`. Instead, set
   `<arg>` on the `inner_optimizer`.";
3. any other keyword: "LossScaleOptimizer does not support arguments: `<a>`, `<b>`.".

Then optbridge's: ``inner_optimizer`` must be a Keras-dialect optimizer (not a
``LossScaleOptimizer`` or ``MultiOptimizer``), ``initial_scale`` a finite number > 0 and
``dynamic_growth_steps`` an int >= 1 (Keras takes anything and fails later).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from ....errors import SpecTypeError, SpecValueError
from ....spec import OptimizerSpec
from ....transforms import LossScale
from ...base import DialectOptimizer, register_dialect
from ._base import KerasOptimizer

__all__ = ["LossScaleOptimizer"]

#: ``BaseOptimizer``'s arguments the wrapper refuses unless at these defaults (Keras's list)
_INNER_ONLY = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None, "use_ema": False,
               "ema_momentum": 0.99, "ema_overwrite_frequency": None, "loss_scale_factor": None,
               "gradient_accumulation_steps": None}


@register_dialect
class LossScaleOptimizer(DialectOptimizer):
    """Dynamic loss scaling around a Keras-dialect optimizer (see the module docstring).

    Args:
        inner_optimizer: the Keras-dialect optimizer (or its optbridge config dict).
        initial_scale: the first loss scale (Keras: ``2.0**15``).
        dynamic_growth_steps: finite steps in a row before the scale doubles (Keras: 2000).
        name: the optimizer's name (kept for configs).

    Raises:
        SpecValueError: Keras's refusals and optbridge's (module docstring).
        SpecTypeError: ``inner_optimizer`` is not a Keras-dialect optimizer, or a value is
            not a number.
    """

    qualname = "keras.optimizers.LossScaleOptimizer"
    cls_name = "LossScaleOptimizer"
    #: a wrapper of another dialect optimizer: its algorithm's table row is the inner's
    wraps_optimizer: ClassVar[bool] = True
    #: configs hold the inner optimizer's own config (:meth:`to_dict`, ``optbridge.from_dict``)
    nested_optimizers: ClassVar[dict[str, str]] = {"inner_optimizer": "inner_optimizer"}

    def __init__(self, inner_optimizer: Any, initial_scale: Any = 2.0 ** 15, dynamic_growth_steps: Any = 2000,
                 name: Any = None, **kwargs: Any):
        if not kwargs.pop("dynamic", True):
            raise SpecValueError("LossScaleOptimizer no longer supports `dynamic=False`. Instead, simply set "
                                 "`loss_scale_factor` directly on the `inner_optimizer`.")
        for arg_name, default_value in _INNER_ONLY.items():
            if arg_name not in kwargs:
                continue
            arg_value = kwargs.pop(arg_name)
            if (default_value is None and arg_value is not None) or arg_value != default_value:
                raise SpecValueError(f"LossScaleOptimizer does not support `{arg_name}`. Instead, set `{arg_name}` "
                                     f"on the `inner_optimizer`.")
        if kwargs:
            raise SpecValueError(f"LossScaleOptimizer does not support arguments: `{'`, `'.join(kwargs.keys())}`.")
        if isinstance(inner_optimizer, Mapping):  # its config (optbridge.from_dict passes it built)
            from ....config import nested_optimizer
            inner_optimizer = nested_optimizer(inner_optimizer, "inner_optimizer")
        if not isinstance(inner_optimizer, KerasOptimizer):
            raise SpecTypeError(f"keras.optimizers.LossScaleOptimizer: `inner_optimizer` must be a Keras-dialect "
                                f"optimizer. Received: {inner_optimizer!r:.200}")
        if name is not None and not isinstance(name, str):
            raise SpecTypeError(f"`name` must be a string or None. Received: name={name!r}")
        self._record({"inner_optimizer": inner_optimizer, "initial_scale": initial_scale,
                      "dynamic_growth_steps": dynamic_growth_steps, "name": name})
        self._scaling()

    @property
    def inner_optimizer(self) -> KerasOptimizer:
        """The wrapped optimizer."""
        return self._arguments["inner_optimizer"]

    def _scaling(self) -> LossScale:
        args = self._arguments
        try:
            return LossScale(form="keras", initial_scale=args["initial_scale"], dynamic=True,
                             growth_interval=args["dynamic_growth_steps"])
        except (SpecTypeError, SpecValueError) as exc:
            message = str(exc).replace("'growth_interval'", "`dynamic_growth_steps`").replace(
                "'initial_scale'", "`initial_scale`")
            raise type(exc)(f"keras.optimizers.LossScaleOptimizer: {message}") from None

    def to_canonical(self) -> OptimizerSpec:
        """The inner optimizer's spec, its static ``loss_scale_factor`` dropped, with the
        dynamic loss scale first in its transforms."""
        inner = self.inner_optimizer.to_canonical()
        kept = tuple(t for t in inner.transforms if not (isinstance(t, LossScale) and t.stateless))
        return dataclasses.replace(inner, transforms=(self._scaling(), *kept), origin=self.qualname)
