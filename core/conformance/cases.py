"""The conformance case database, like torch's ``OptimizerInfo`` (DESIGN.md section 7).

A :class:`CaseInfo` is one optimizer config (as accepted by :func:`optbridge.from_dict`),
a built-in parameter layout, a number of steps and a seed for the deterministic streams.
Every backend runs every case in float32 and float64 (:mod:`optbridge.conformance.runner`).

How :data:`CASES` is generated. For every class in
:data:`optbridge.dialects.base.dialect_registry` the catalog
(:mod:`optbridge.conformance.catalog`, one module per dialect family) holds a
:class:`DialectCases` entry: its representative hyperparameter sets (every boolean flag
both ways, ``dampening > 0``, ``loss_scale != 1`` and so on) and the axis values the
class takes. Each case is a point of four axes:

* **hyperparameters** — the dialect's sets;
* **groups** — ``none`` (ungrouped, MindSpore's gamma/beta decay filter applies), ``two``
  (two groups, one with its own ``lr``, one with its own ``weight_decay``), ``guide``
  (the reference guide's conv / bn / dense / rest grouping with ``order_params`` and
  ``grad_centralization`` on the conv group; on the ``guide`` layout no tensor is
  eligible for centralization, as in MindSpore, so this also checks it is skipped) and
  ``doc`` (the example of MindSpore's optimizer API docs on the ``tiny`` layout: conv
  group with ``weight_decay`` and ``grad_centralization``, which centralizes
  ``conv2.weight``, and a group with its own ``lr``, then ``order_params``); classes
  that refuse group learning rates (``nn.FTRL``) take ``nolr`` instead (two groups on the
  ``guide`` layout, one with ``weight_decay=0``, then ``order_params``); classes that
  take 2-D parameters only (``torch.optim.Muon``) take ``matrix`` and ``matrix_two``
  (the ``block`` layout ungrouped, and as ``two``'s two groups);
* **lr** — ``const``, ``list`` (a ``nn.dynamic_lr`` per-step list) or ``schedule`` (a
  ``nn.learning_rate_schedule`` class); the concrete function or class rotates through
  all of them in generation order;
* **wd** — ``off``, ``const``, or ``schedule`` (a schedule as weight decay, only where the
  class allows it: ``nn.SGD`` refuses dynamic weight decay).

A class's entry may restrict the combinations (``DialectCases.valid``) and say how to
build it (``DialectCases.construct``: ``nn.LARS`` wraps an optimizer built from the
case's groups and values).

Selection rule: the full product (about 700 cases) would take minutes per backend, so
the database is an **all-pairs covering** of the four axes per dialect: first each
hyperparameter set once on its own (``groups_none``, ``lr_const``, ``wd_off``), then,
greedily, the combination that covers the most not-yet-covered pairs of axis values
(ties: the first in product order), until every pair of values of any two axes that a
valid combination can hold appears in at least one case. The greedy order is fixed, so
the database is the same on every run. Case ids read
``mindspore.Momentum-nesterov-groups_guide-lr_schedule-wd_const`` and work with
``pytest -k``.

Expected failures are data: ``data/xfails.json`` maps case ids to ``{backend: reason}``
(a key ``"backend:dtype"`` limits it to one dtype); they are strict.
"""
from __future__ import annotations

import itertools
import json
import math
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import optbridge

from ..config import read_data as read_config_file
from ..config import to_dict, validate
from ..dialects.base import dialect_registry
from ..dialects.mindspore import nn
from ..errors import ConfigError
from ..groups import ParamInfo, select
from .catalog import DIALECT_CASES
from .catalog.base import GROUP_FORMS, LR_FORMS, WD_FORMS, DialectCases
from .layouts import LAYOUTS
from .streams import Layout

__all__ = [
    "DTYPES",
    "DEFAULT_STEPS",
    "CaseInfo",
    "DialectCases",
    "DIALECT_CASES",
    "AXES",
    "CASES",
    "GUIDE_EXAMPLE",
    "RANK_EXAMPLE",
    "default_example",
    "generate_cases",
    "uncovered_dialects",
    "ConformSettings",
    "parse_conform_table",
    "MAX_CONFORM_STEPS",
    "MAX_LAYOUT_ELEMENTS",
    "MAX_LAYOUT_TENSORS",
    "MAX_LAYOUT_NDIM",
    "read_config_file",
    "case_from_config",
]

DTYPES: tuple[str, ...] = ("float32", "float64")
DEFAULT_STEPS = 8
#: Most ``steps`` a config's ``conform`` table (or ``--steps``) may ask for.
MAX_CONFORM_STEPS = 100_000
#: Most elements, summed over the tensors, of a ``conform`` table's explicit layout
#: (the built-in ``resnet50`` layout has 25.6 million).
MAX_LAYOUT_ELEMENTS = 32 * 1024 * 1024
#: Most tensors of an explicit layout, and most dimensions of one shape.
MAX_LAYOUT_TENSORS = 100_000
MAX_LAYOUT_NDIM = 16
LayoutSpec = str | Layout


@dataclass(frozen=True)
class CaseInfo:
    """One conformance case.

    Attributes:
        id: readable, ``pytest -k`` friendly name.
        config: an optbridge config dict (``format_version``, ``optimizer``, arguments).
        layout: a built-in layout name (:data:`optbridge.conformance.layouts.LAYOUTS`) or
            explicit ``((name, shape), ...)``.
        steps: optimizer steps to run (the database uses at least 7).
        seed: seed of the deterministic parameter and gradient streams.
        dtypes: the dtypes the case runs in.
        xfails: ``{backend name or "backend:dtype": reason}`` of strict expected failures.
    """

    id: str
    config: Mapping[str, Any] = field(hash=False)
    layout: LayoutSpec = "guide"
    steps: int = DEFAULT_STEPS
    seed: int = 0
    dtypes: tuple[str, ...] = DTYPES
    xfails: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"case {self.id!r}: 'steps' must be an int >= 1. Received: {self.steps!r}")
        unknown = [d for d in self.dtypes if d not in DTYPES]
        if unknown:
            raise ValueError(f"case {self.id!r}: unknown dtypes {unknown}; known: {list(DTYPES)}")

    @property
    def layout_shapes(self) -> Layout:
        """The layout as ``((name, shape), ...)``."""
        if isinstance(self.layout, str):
            if self.layout not in LAYOUTS:
                raise ValueError(f"case {self.id!r}: unknown layout {self.layout!r}. Built-in: {sorted(LAYOUTS)}")
            return LAYOUTS[self.layout]
        return tuple((str(n), tuple(int(s) for s in shape)) for n, shape in self.layout)

    @property
    def algorithm(self) -> str:
        """Name of the canonical algorithm the config lowers to."""
        return optbridge.from_dict(self.config).to_canonical().algorithm.name

    @property
    def optimizer(self) -> str:
        """The config's dialect class (``mindspore.nn.Momentum``)."""
        return str(self.config["optimizer"])

    def xfail_reason(self, backend: str, dtype: str) -> str | None:
        """The expected-failure reason for ``backend`` in ``dtype``, or ``None``."""
        return self.xfails.get(f"{backend}:{dtype}", self.xfails.get(backend))

    def conform_table(self) -> dict[str, Any]:
        """The ``conform`` table that makes ``config`` reproduce this case on the CLI."""
        layout = self.layout if isinstance(self.layout, str) else [[n, list(s)] for n, s in self.layout_shapes]
        return {"layout": layout, "steps": self.steps, "seed": self.seed}

    def to_config(self) -> dict[str, Any]:
        """The config with its ``conform`` table: ``optbridge conform`` reruns the case from it."""
        return {**dict(self.config), "conform": self.conform_table()}

    def to_json(self) -> dict[str, Any]:
        """The whole case as JSON-compatible data."""
        return {"id": self.id, "config": self.to_config(), "dtypes": list(self.dtypes), "xfails": dict(self.xfails)}


# -- the database ----------------------------------------------------------------------
_GUIDE_NAMES = [name for name, _ in LAYOUTS["guide"]]
_GUIDE_CONV = ["layer1.0.weight", "layer2.0.weight"]
_GUIDE_BN = ["layer1.1.gamma", "layer1.1.beta", "layer2.1.gamma", "layer2.1.beta"]
_TINY_NAMES = [name for name, _ in LAYOUTS["tiny"]]
_TINY_CONV = ["conv1.weight", "conv2.weight"]


def _scaled(lr: float, factor: float) -> float:
    return round(lr * factor, 12)


def _groups_none(lr: float, steps: int) -> tuple[str, Any]:
    return "guide", None


def _groups_two(lr: float, steps: int) -> tuple[str, Any]:
    return "guide", [
        {"params": _GUIDE_CONV + ["fc.weight"], "lr": _scaled(lr, 0.5)},
        {"params": "*", "weight_decay": 0.0},
    ]


def _groups_guide(lr: float, steps: int) -> tuple[str, Any]:
    conv_lr = nn.cosine_decay_lr(0.0, lr, total_step=steps, step_per_epoch=1, decay_epoch=steps)
    return "guide", [
        {"order_params": list(_GUIDE_NAMES)},
        {"params": list(_GUIDE_CONV), "weight_decay": 1e-4, "lr": conv_lr, "grad_centralization": True},
        {"params": list(_GUIDE_BN), "weight_decay": 0.0, "lr": _scaled(lr, 0.1)},
        {"params": ["fc.weight"], "weight_decay": 1e-5, "lr": lr},
        {"params": "*"},
    ]


def _groups_doc(lr: float, steps: int) -> tuple[str, Any]:
    return "tiny", [
        {"params": list(_TINY_CONV), "weight_decay": 0.01, "grad_centralization": True},
        {"params": [n for n in _TINY_NAMES if n not in _TINY_CONV], "lr": _scaled(lr, 0.1)},
        {"order_params": list(_TINY_NAMES)},
    ]


def _groups_nolr(lr: float, steps: int) -> tuple[str, Any]:
    return "guide", [
        {"params": _GUIDE_CONV + ["fc.weight"], "weight_decay": 0.0},
        {"params": "*"},
        {"order_params": list(_GUIDE_NAMES)},
    ]


def _groups_matrix(lr: float, steps: int) -> tuple[str, Any]:
    return "block", None


def _groups_matrix_two(lr: float, steps: int) -> tuple[str, Any]:
    return "block", [
        {"params": ["attn.qkv.weight", "attn.proj.weight"], "lr": _scaled(lr, 0.5)},
        {"params": "*", "weight_decay": 0.0},
    ]


_GROUPS: dict[str, Callable[[float, int], tuple[str, Any]]] = {
    "nolr": _groups_nolr,
    "matrix": _groups_matrix,
    "matrix_two": _groups_matrix_two,
    "none": _groups_none,
    "two": _groups_two,
    "guide": _groups_guide,
    "doc": _groups_doc,
}

_LR_LISTS: tuple[Callable[[float, int], list[float]], ...] = (
    lambda lr, n: nn.piecewise_constant_lr([2, 5, n], [lr, _scaled(lr, 0.5), _scaled(lr, 0.1)]),
    lambda lr, n: nn.exponential_decay_lr(lr, 0.8, n, 1, 2),
    lambda lr, n: nn.natural_exp_decay_lr(lr, 0.3, n, 1, 2, is_stair=True),
    lambda lr, n: nn.inverse_decay_lr(lr, 0.5, n, 1, 2),
    lambda lr, n: nn.cosine_decay_lr(_scaled(lr, 0.1), lr, n, 1, n),
    lambda lr, n: nn.polynomial_decay_lr(lr, _scaled(lr, 0.1), n, 1, n - 2, 2.0, update_decay_epoch=True),
    lambda lr, n: nn.warmup_lr(lr, n, 1, 3),
)

_LR_SCHEDULES: tuple[Callable[[float, int], Any], ...] = (
    lambda lr, n: nn.ExponentialDecayLR(lr, 0.8, 2),
    lambda lr, n: nn.NaturalExpDecayLR(lr, 0.3, 2, is_stair=True),
    lambda lr, n: nn.InverseDecayLR(lr, 0.5, 2),
    lambda lr, n: nn.CosineDecayLR(_scaled(lr, 0.1), lr, n),
    lambda lr, n: nn.PolynomialDecayLR(lr, _scaled(lr, 0.1), n - 2, 2.0, update_decay_steps=True),
    lambda lr, n: nn.WarmUpLR(lr, 3),
)

#: The axes of the database and their values (the hyperparameter axis is per dialect).
AXES: dict[str, tuple[str, ...]] = {"groups": GROUP_FORMS, "lr": LR_FORMS, "wd": WD_FORMS}


def _short_name(qualname: str) -> str:
    parts = qualname.split(".")
    return f"{parts[0]}.{parts[-1]}" if len(parts) > 1 else qualname


def _lr_value(form: str, lr: float, steps: int, rotation: int) -> Any:
    if form == "const":
        return lr
    table = _LR_LISTS if form == "list" else _LR_SCHEDULES
    return table[rotation % len(table)](lr, steps)


def _wd_value(form: str, wd: float) -> Any:
    if form == "off":
        return 0.0
    if form == "const":
        return wd
    return nn.ExponentialDecayLR(wd, 0.7, 2, is_stair=True)


def _pairs(combo: Sequence[str]) -> set[tuple[int, str, int, str]]:
    return {(i, combo[i], j, combo[j]) for i, j in itertools.combinations(range(len(combo)), 2)}


def _all_pairs(axes: Sequence[Sequence[str]], valid: Callable[[tuple[str, ...]], bool],
               seeds: Sequence[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Greedy all-pairs covering of ``axes`` restricted to ``valid`` combinations, ``seeds`` first."""
    combos = [c for c in itertools.product(*axes) if valid(c)]
    uncovered: set[tuple[int, str, int, str]] = set()
    for combo in combos:
        uncovered |= _pairs(combo)
    chosen: list[tuple[str, ...]] = []
    for combo in seeds:
        chosen.append(combo)
        uncovered -= _pairs(combo)
    while uncovered:
        best = max((c for c in combos if c not in chosen), key=lambda c: len(_pairs(c) & uncovered))
        chosen.append(best)
        uncovered -= _pairs(best)
    return chosen


def _load_xfails() -> dict[str, dict[str, str]]:
    text = (resources.files("optbridge.conformance") / "data" / "xfails.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return {str(k): {str(b): str(r) for b, r in v.items()} for k, v in data["xfails"].items()}


#: The order the database is generated in. The lr-list and schedule rotation runs across the
#: whole catalog, so this order is part of every case's inputs: it is fixed here rather than
#: left to the order in which dialect modules happen to be imported. Catalog entries not
#: listed (a newly added class) follow, in catalog order.
GENERATION_ORDER: tuple[str, ...] = (
    'mindspore.nn.Adam',
    'mindspore.nn.AdamOffload',
    'mindspore.nn.AdamWeightDecay',
    'mindspore.nn.ASGD',
    'mindspore.nn.Momentum',
    'mindspore.nn.SGD',
    'mindspore.nn.LazyAdam',
    'mindspore.nn.Adadelta',
    'mindspore.nn.Adagrad',
    'mindspore.nn.AdaMax',
    'mindspore.nn.RMSProp',
    'mindspore.nn.Rprop',
    'mindspore.nn.AdaFactor',
    'mindspore.nn.FTRL',
    'mindspore.nn.ProximalAdagrad',
    'mindspore.nn.Lamb',
    'mindspore.nn.LARS',
    'torch.optim.Adam',
    'torch.optim.AdamW',
    'torch.optim.ASGD',
    'torch.optim.NAdam',
    'torch.optim.RAdam',
    'torch.optim.SGD',
    'torch.optim.Adadelta',
    'torch.optim.Adagrad',
    'torch.optim.Adamax',
    'torch.optim.RMSprop',
    'torch.optim.Rprop',
    'torch.optim.Adafactor',
    'torch.optim.Muon',
    'keras.optimizers.Adadelta',
    'keras.optimizers.Adagrad',
    'keras.optimizers.Adam',
    'keras.optimizers.AdamW',
    'keras.optimizers.RMSprop',
    'keras.optimizers.SGD',
    'keras.optimizers.Adamax',
    'keras.optimizers.Ftrl',
    'keras.optimizers.Lamb',
    'keras.optimizers.Lion',
    'keras.optimizers.Nadam',
    'keras.optimizers.Muon',
    'keras.optimizers.Adafactor',
)


def generation_order() -> list[str]:
    """The dialect classes with catalog entries, in :data:`GENERATION_ORDER`."""
    listed = [q for q in GENERATION_ORDER if q in DIALECT_CASES]
    return listed + [q for q in DIALECT_CASES if q not in GENERATION_ORDER]


def generate_cases(steps: int = DEFAULT_STEPS) -> Iterator[CaseInfo]:
    """Generate the database (see the module docstring for the selection rule)."""
    xfails = _load_xfails()
    rotation = {"list": 0, "schedule": 0}
    for qualname in generation_order():
        cls = dialect_registry[qualname]
        entry = DIALECT_CASES[qualname]
        labels = tuple(label for label, _ in entry.hyperparameters)
        hyper = dict(entry.hyperparameters)

        axes = (labels, entry.group_forms, entry.lr_forms, entry.wd_forms)
        seeds = [(label, entry.group_forms[0], entry.lr_forms[0], entry.wd_forms[0]) for label in labels]
        valid = (lambda combo, check=entry.valid: check(*combo)) if entry.valid is not None else (lambda combo: True)
        for label, groups, lr_form, wd_form in _all_pairs(axes, valid, seeds):
            layout, params = _GROUPS[groups](entry.lr, steps)
            learning_rate = _lr_value(lr_form, entry.lr, steps, rotation.get(lr_form, 0))
            if lr_form in rotation:
                rotation[lr_form] += 1
            arguments = {entry.lr_keyword: learning_rate, "weight_decay": _wd_value(wd_form, entry.weight_decay)}
            chosen = dict(hyper[label])
            added = chosen.pop("transforms", ())
            if entry.construct is not None:
                spec = entry.construct(params, arguments, chosen)
            else:
                spec = cls(params, **arguments, **chosen)
            if added:
                spec = spec.with_transforms(*added)
            case_id = f"{_short_name(qualname)}-{label}-groups_{groups}-lr_{lr_form}-wd_{wd_form}"
            yield CaseInfo(
                id=case_id,
                config=to_dict(spec),
                layout=layout,
                steps=steps,
                seed=zlib.crc32(case_id.encode()) & 0xFFFF,
                xfails=xfails.get(case_id, {}),
            )


def uncovered_dialects() -> list[str]:
    """Registered dialect classes the database has no hyperparameter sets for."""
    return sorted(q for q in dialect_registry if q not in DIALECT_CASES)


#: Every case, generated at import (see the module docstring).
CASES: tuple[CaseInfo, ...] = tuple(generate_cases())


def _guide_example() -> CaseInfo:
    """The reference guide's grouped ``nn.Momentum`` (mindspore-lr-and-optimizer-guide.txt).

    The guide's values, with ``grad_centralization`` on the conv group as in the
    ``Momentum`` API example; the conv group's lr is the guide's 1000-step
    ``cosine_decay_lr`` list.
    """
    conv_lr = nn.cosine_decay_lr(0.0, 1e-3, total_step=1000, step_per_epoch=100, decay_epoch=10)
    spec = nn.Momentum(
        [
            {"order_params": list(_GUIDE_NAMES)},
            {"params": list(_GUIDE_CONV), "weight_decay": 1e-4, "lr": conv_lr, "grad_centralization": True},
            {"params": list(_GUIDE_BN), "weight_decay": 0.0, "lr": 1e-4},
            {"params": ["fc.weight"], "weight_decay": 1e-5, "lr": 1e-3},
            {"params": ["fc.bias"]},
        ],
        learning_rate=1e-3, weight_decay=0.0, momentum=0.9,
    )
    return CaseInfo(id="example.guide_momentum", config=to_dict(spec), layout="guide", steps=10, seed=0)


#: The built-in example ``optbridge conform`` runs without a config on the ``guide`` layout.
GUIDE_EXAMPLE: CaseInfo = _guide_example()


#: :data:`RANK_EXAMPLE`'s groups: convolution kernels (``"cosine"``: a cosine-decay lr list),
#: tensors of rank <= 1, the rest
_RANK_GROUPS: tuple[tuple[Any, dict[str, Any]], ...] = (
    ({"ndim": 4}, {"weight_decay": 1e-4, "lr": "cosine", "grad_centralization": True}),
    ({"max_ndim": 1}, {"weight_decay": 0.0, "lr": 1e-4}),
    ("*", {"weight_decay": 1e-5, "lr": 1e-3}),
)


def _rank_example(layout: str = "tiny") -> CaseInfo:
    """:data:`GUIDE_EXAMPLE`'s groups selected by rank instead of the guide's names, on ``layout``.

    Convolution kernels (``{"ndim": 4}``), then every tensor of rank <= 1 (norms and
    biases), then the rest, with the guide's values; a group whose selector picks no
    tensor of ``layout`` is left out (the ``block`` layout's transformer matrices leave
    only the last).
    """
    conv_lr = nn.cosine_decay_lr(0.0, 1e-3, total_step=1000, step_per_epoch=100, decay_epoch=10)
    infos = [ParamInfo(name, tuple(shape)) for name, shape in LAYOUTS[layout]]
    groups = [{"params": selector, **{k: conv_lr if v == "cosine" else v for k, v in values.items()}}
              for selector, values in _RANK_GROUPS if select(selector, infos)]
    spec = nn.Momentum(groups, learning_rate=1e-3, weight_decay=0.0, momentum=0.9)
    return CaseInfo(id="example.momentum_by_rank", config=to_dict(spec), layout=layout, steps=10, seed=0)


#: The built-in example ``optbridge conform --layout NAME`` runs on a layout other than ``guide``.
RANK_EXAMPLE: CaseInfo = _rank_example()


def default_example(layout: str = "guide") -> CaseInfo:
    """The example ``optbridge conform`` runs without a config, on the built-in ``layout``.

    ``guide``: :data:`GUIDE_EXAMPLE` (the guide's parameter names); any other built-in
    layout: :data:`RANK_EXAMPLE` (the same groups selected by rank) on it.

    Raises:
        ValueError: ``layout`` is not a built-in layout name.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}. Built-in layouts: {sorted(LAYOUTS)}")
    if layout == "guide":
        return GUIDE_EXAMPLE
    return _rank_example(layout)


# -- configs with a ``conform`` table ------------------------------------------------------
@dataclass(frozen=True)
class ConformSettings:
    """A config file's optional ``conform`` table: ``{"layout", "steps", "seed"}``."""

    layout: LayoutSpec | None = None
    steps: int | None = None
    seed: int | None = None


def _check_int(value: Any, path: str, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{path}: must be an int >= {minimum}. Received: {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{path}: must be an int <= {maximum}. Received: {value!r}")
    return value


def _check_layout(value: Any, path: str) -> LayoutSpec:
    if isinstance(value, str):
        if value not in LAYOUTS:
            raise ConfigError(f"{path}: unknown layout {value!r}. Built-in layouts: {sorted(LAYOUTS)}")
        return value
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(
            f"{path}: must be a built-in layout name or a non-empty list of [name, [shape...]]. Received: {value!r}"
        )
    if len(value) > MAX_LAYOUT_TENSORS:
        raise ConfigError(f"{path}: at most {MAX_LAYOUT_TENSORS} tensors. Received: {len(value)}")
    out: list[tuple[str, tuple[int, ...]]] = []
    seen: set[str] = set()
    elements = 0
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ConfigError(f"{where}: must be [name, [shape...]]. Received: {item!r}")
        name, shape = item
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: the name must be a non-empty string. Received: {name!r}")
        if name in seen:
            raise ConfigError(f"{where}: the name {name!r} appears twice")
        seen.add(name)
        if not isinstance(shape, (list, tuple)):
            raise ConfigError(f"{where}: the shape must be a list of ints. Received: {shape!r}")
        if len(shape) > MAX_LAYOUT_NDIM:
            raise ConfigError(f"{where}: a shape has at most {MAX_LAYOUT_NDIM} dimensions. Received: {len(shape)}")
        dims = tuple(_check_int(d, f"{where}[1][{j}]", 1, MAX_LAYOUT_ELEMENTS) for j, d in enumerate(shape))
        elements += math.prod(dims)
        if elements > MAX_LAYOUT_ELEMENTS:
            raise ConfigError(
                f"{where}: the layout holds more than {MAX_LAYOUT_ELEMENTS} elements in all (up to this tensor: "
                f"{elements})"
            )
        out.append((name, dims))
    return tuple(out)


def parse_conform_table(table: Any, path: str = "conform") -> ConformSettings:
    """Validate a ``conform`` table.

    Raises:
        ConfigError: not a table, an unknown key, a layout that is neither a built-in
            name nor ``[[name, [shape...]], ...]``, ``steps`` not an int >= 1, or
            ``seed`` not an int >= 0; more than :data:`MAX_CONFORM_STEPS` steps, or a layout
            of more than :data:`MAX_LAYOUT_TENSORS` tensors, :data:`MAX_LAYOUT_NDIM`
            dimensions in a shape or :data:`MAX_LAYOUT_ELEMENTS` elements in all; the
            message names the path.
    """
    if not isinstance(table, Mapping):
        raise ConfigError(f"{path}: must be a table with keys layout, steps, seed. Received: {table!r}")
    for key in table:
        if key not in ("layout", "steps", "seed"):
            raise ConfigError(f"{path}.{key}: unknown key. Known: ['layout', 'steps', 'seed']")
    return ConformSettings(
        layout=_check_layout(table["layout"], f"{path}.layout") if "layout" in table else None,
        steps=_check_int(table["steps"], f"{path}.steps", 1, MAX_CONFORM_STEPS) if "steps" in table else None,
        seed=_check_int(table["seed"], f"{path}.seed", 0) if "seed" in table else None,
    )


def case_from_config(
    data: Mapping[str, Any],
    *,
    name: str = "config",
    layout: LayoutSpec | None = None,
    steps: int | None = None,
    seed: int | None = None,
    dtypes: Sequence[str] = DTYPES,
) -> CaseInfo:
    """A case for one config; arguments given here override its ``conform`` table.

    Defaults without either: the ``guide`` layout, 10 steps, seed 0.

    Raises:
        ConfigError: a malformed config or ``conform`` table (with the path to the key).
        TypeError, ValueError: the dialect class refuses the arguments (its own checks).
    """
    settings = parse_conform_table(data["conform"]) if "conform" in data else ConformSettings()
    config = {k: v for k, v in data.items() if k != "conform"}
    validate(config)
    optbridge.from_dict(config)
    chosen_layout = layout if layout is not None else settings.layout
    if chosen_layout is not None:
        chosen_layout = _check_layout(chosen_layout, "layout")
    return CaseInfo(
        id=name,
        config=config,
        layout=chosen_layout if chosen_layout is not None else "guide",
        steps=_check_int(steps, "steps", 1, MAX_CONFORM_STEPS) if steps is not None else (settings.steps or 10),
        seed=_check_int(seed, "seed", 0) if seed is not None else (settings.seed or 0),
        dtypes=tuple(dtypes),
    )
