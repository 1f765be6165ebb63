"""Record types of the conformance catalog: hyperparameter sets and bad inputs.

Each dialect family has a catalog module (:mod:`.mindspore`, ...) holding, for every
dialect class, a :class:`DialectCases` entry (what the case database varies) and its
``construct`` :class:`ErrorInput` records (the class's documented ``Raises:``).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DialectCases", "ErrorInput", "construct_error", "CONSTRUCT_PARAMS", "GROUP_FORMS", "EXTRA_GROUP_FORMS",
           "LR_FORMS", "WD_FORMS"]

#: Every value of the ``groups``, ``lr`` and ``wd`` axes (see :mod:`optbridge.conformance.cases`).
GROUP_FORMS: tuple[str, ...] = ("none", "two", "guide", "doc")
#: Group forms a class takes only when it lists them: ``nolr`` (groups with their own
#: ``weight_decay`` and ``order_params`` but no ``lr``, for classes that refuse group
#: learning rates, such as ``nn.FTRL``); ``matrix`` and ``matrix_two`` (the ``block`` layout,
#: 2-D parameters only, as one group and as two: for ``torch.optim.Muon``).
EXTRA_GROUP_FORMS: tuple[str, ...] = ("nolr", "matrix", "matrix_two")
LR_FORMS: tuple[str, ...] = ("const", "list", "schedule")
WD_FORMS: tuple[str, ...] = ("off", "const", "schedule")

#: The ``params`` of every ``construct`` record (two names of the ``tiny`` layout).
CONSTRUCT_PARAMS: tuple[str, ...] = ("conv1.weight", "fc.weight")


@dataclass(frozen=True)
class DialectCases:
    """What the database knows about one dialect class.

    Attributes:
        lr: base learning rate (the lr axis and the groups scale from it).
        weight_decay: weight decay of the ``wd_const`` and ``wd_schedule`` forms.
        hyperparameters: ``(label, arguments)`` sets; the first is the class defaults.
        lr_keyword: the constructor's learning-rate argument (``learning_rate`` in
            MindSpore and Keras, ``lr`` in torch).
        group_forms: the values of the ``groups`` axis the class takes (``guide`` and
            ``doc`` use ``order_params`` and ``grad_centralization``, MindSpore keys).
        lr_forms: the values of the ``lr`` axis the class takes.
        wd_forms: the values of the ``wd`` axis the class takes (``schedule`` only where
            the class accepts a schedule as weight decay; ``nn.SGD`` refuses it).
        construct: how the database builds the class, ``construct(params, arguments,
            hyperparameters)`` with ``arguments`` the learning rate and weight decay;
            ``None``: ``cls(params, **arguments, **hyperparameters)``. Wrappers such as
            ``nn.LARS`` build their wrapped optimizer here.
        valid: ``valid(label, groups, lr, wd) -> bool``, the axis combinations the class
            accepts (``None``: all), e.g. ``nn.LARS(use_clip=True)`` refuses a wrapped
            optimizer with group and dynamic learning rates.
    """

    lr: float
    weight_decay: float
    hyperparameters: tuple[tuple[str, Mapping[str, Any]], ...]
    lr_keyword: str = "learning_rate"
    group_forms: tuple[str, ...] = GROUP_FORMS
    lr_forms: tuple[str, ...] = LR_FORMS
    wd_forms: tuple[str, ...] = WD_FORMS
    construct: Callable[[Any, Mapping[str, Any], Mapping[str, Any]], Any] | None = None
    valid: Callable[[str, str, str, str], bool] | None = None

    def __post_init__(self) -> None:
        for axis, values, known in (("group_forms", self.group_forms, GROUP_FORMS + EXTRA_GROUP_FORMS),
                                    ("lr_forms", self.lr_forms, LR_FORMS), ("wd_forms", self.wd_forms, WD_FORMS)):
            unknown = [v for v in values if v not in known]
            if unknown or not values:
                raise ValueError(f"DialectCases.{axis}: unknown or no values {unknown}; known: {list(known)}")
        if not self.hyperparameters:
            raise ValueError("DialectCases.hyperparameters: at least one set (the class defaults) is needed")

    @property
    def dynamic_weight_decay(self) -> bool:
        """Whether the class accepts a schedule as weight decay."""
        return "schedule" in self.wd_forms


@dataclass(frozen=True)
class ErrorInput:
    """One bad input.

    Attributes:
        id: readable, ``pytest -k`` friendly name.
        description: what is wrong, in words.
        optimizer: the dialect class (``mindspore.nn.Momentum``).
        trigger: ``"construct"``, ``"build"`` or ``"step"``.
        kwargs: constructor arguments (bad ones for ``construct``, valid otherwise).
        error_type: the exception class expected (``isinstance`` check).
        message: a fragment the exception's message must contain.
        layout: built-in layout the optimizer is built on (``build``/``step``).
        dtype: parameter dtype (``build``/``step``).
        steps_before: good steps before the failing one (``step``).
        fault: for ``step``: ``"shape"``, ``"dtype"``, ``"missing"`` or ``"none"`` (good
            gradients: the failure comes from the optimizer's values).
        fault_param: the parameter whose gradient is bad.
        xfails: ``{backend name: reason}`` of strict expected failures.
    """

    id: str
    description: str
    optimizer: str
    trigger: str
    kwargs: Mapping[str, Any] = field(hash=False)
    error_type: type[BaseException] = Exception
    message: str = ""
    layout: str = "tiny"
    dtype: str = "float32"
    steps_before: int = 0
    fault: str = "none"
    fault_param: str = "fc.weight"
    xfails: Mapping[str, str] = field(default_factory=dict, hash=False)


def construct_error(id: str, optimizer: str, kwargs: dict, error_type: type, message: str,
                    description: str) -> ErrorInput:
    """A ``construct`` record: ``optimizer(params=CONSTRUCT_PARAMS, **kwargs)`` must raise."""
    return ErrorInput(id, description, optimizer, "construct", {"params": list(CONSTRUCT_PARAMS), **kwargs},
                      error_type, message)
