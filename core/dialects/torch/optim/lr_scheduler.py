r"""``torch.optim.lr_scheduler`` (torch 2.13) for optimizers built by optbridge, on any backend.

Two ways to use every scheduler:

**Bound, as in torch.** ``StepLR(opt, step_size=5, gamma=0.1)`` binds to the object
:func:`optbridge.build` returned (NumPy, torch, TensorFlow or a plugin backend);
``sched.step()``, ``sched.get_last_lr()``, ``sched.state_dict()``/``load_state_dict()``,
``last_epoch`` resume, several schedulers on one optimizer, ``SequentialLR`` and
``ChainedScheduler`` behave as torch's. The scheduler reads and writes each group's
learning rate through the engine (``Engine.static_lr``/``set_lr``: the groups' lrs must
be static numbers, as torch's are), keeps torch's ``param_groups`` bookkeeping
(``initial_lr``, ``max_lr``, ``min_lr``, ``max_momentum``, ``base_momentum``) in the
engine's ``scheduler_values`` and cycles ``momentum``/``beta1`` through
``Engine.set_hyperparameters``, so all of it is in the optimizer's neutral state dict.

**Declared, inside a spec.** ``StepLR.declare(lr=0.1, step_size=5)`` is a
:class:`~optbridge.schedules.stateful.StatefulSchedule` (registered as
``"torch.optim.lr_scheduler.StepLR"``) that can be a group's ``lr`` (or ``weight_decay``)
in any dialect and in config files. It runs the same code on a private one-group
``param_groups``; ``interval="epoch"`` (default) advances it on ``opt.end_epoch(metric)``,
``interval="step"`` after every optimizer step (default for ``CyclicLR`` and
``OneCycleLR``, which torch steps per batch). Its state (``last_epoch``, ``T_cur``,
plateau's ``best``/``num_bad_epochs``/``cooldown_counter``, ...) is in the neutral state
dict. ``SequentialLR.declare``/``ChainedScheduler.declare`` take declarations without
``lr`` (they share the outer one). ``CyclicLR``/``OneCycleLR`` declarations with
``cycle_momentum=True`` (torch's default) also set the group's ``momentum`` (algorithms
with a ``momentum`` hyperparameter) or ``beta1`` (algorithms with ``beta1``/``beta2``,
torch's ``betas``) every step; for a ``weight_decay`` schedule momentum cycling is an
error. ``CosineAnnealingWarmRestarts.declare(..., steps_per_epoch=N)`` steps with
torch's documented fractional epochs ``epoch + i / N`` after every optimizer step.

Semantics are torch 2.13's code, ported line by line to Python floats: the first
``step()`` happens in the constructor (``_initial_step``), ``step()`` uses the recursive
("chainable") ``get_lr`` forms and ``step(epoch)`` (deprecated, warns) the closed forms
where torch has them; ``SequentialLR`` calls ``_update_lr(0)`` at its milestones. The
warnings torch emits (``step()`` before ``optimizer.step()``, the ``epoch`` argument,
``get_lr()`` outside ``step()``) are emitted with torch's text.

``LambdaLR``/``MultiplicativeLR`` take a Python callable (usable, but a declaration
holding one is not serialisable: ``to_dict()`` says so) or a string such as
``"0.95 ** epoch"``, an :class:`~optbridge.schedules.expression.Expression` parsed
without ``eval``, which is serialisable. ``CyclicLR``'s ``scale_fn`` likewise takes a
callable or an expression over ``x``.

Deviations, all deliberate: a failing ``step()`` (an ``lr_lambda`` expression that
divides by zero, say) leaves the scheduler as it was: ``last_epoch`` and ``_step_count``
are restored, and ``SequentialLR``/``ChainedScheduler`` restore every wrapped scheduler
and the groups' values (torch leaves them advanced); the optimizer must be an optbridge
optimizer (a torch ``Optimizer`` is not one: use ``torch.optim.lr_scheduler`` for those);
group learning rates must be static.

Source: ``torch/optim/lr_scheduler.py`` of torch 2.13.0.

Layout: this module is the public surface; the code lives beside it, one job per module:
``_lr_binding`` (the optimizer seen as torch's, ``param_groups`` as a view of the engine),
``_lr_base`` (``LRScheduler`` and the step helpers), ``_lr_decay``, ``_lr_composite``,
``_lr_plateau`` and ``_lr_cyclic`` (the schedulers) and ``_lr_declared`` (the declared
form, registered when this module is imported). Every class is shown under this module.
"""
from __future__ import annotations

from ._lr_base import EPOCH_DEPRECATION_WARNING, LRScheduler, inf  # noqa: F401 (module constants, as in torch's)
from ._lr_composite import ChainedScheduler, SequentialLR
from ._lr_cyclic import CyclicLR, OneCycleLR
from ._lr_decay import (
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from ._lr_declared import TorchSchedule
from ._lr_plateau import ReduceLROnPlateau

__all__ = [
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "SequentialLR",
    "CosineAnnealingLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
    "CyclicLR",
    "CosineAnnealingWarmRestarts",
    "OneCycleLR",
    "PolynomialLR",
    "LRScheduler",
    "TorchSchedule",
]

for _cls in (LambdaLR, MultiplicativeLR, StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, SequentialLR,
             CosineAnnealingLR, ChainedScheduler, ReduceLROnPlateau, CyclicLR, CosineAnnealingWarmRestarts, OneCycleLR,
             PolynomialLR, LRScheduler, TorchSchedule):
    _cls.__module__ = __name__
    if "Declaration" in vars(_cls):
        vars(_cls)["Declaration"].__module__ = __name__
del _cls
