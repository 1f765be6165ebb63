"""What the torch backend adds to each canonical algorithm's shared update rule.

Every algorithm runs its rule (``Algorithm.update``, written once in
``optbridge.algorithms.<name>``) on :mod:`.ops`, the torch ops namespace, through
:func:`run_rule`: eagerly on the *reference* path, traced by ``torch.compile`` on the
*compiled* path. A :class:`FastPath` records what this backend knows beyond the rule:

* ``native(alg)`` — ``None`` unless the rule, with these hyperparameters, is exactly the
  formula of one of torch's own multi-tensor kernels (``torch._fused_*``). Then it
  returns ``run(alg, params, grads, slots, scalars, negate, weight_decay)`` calling that
  kernel (``alg``: this step's algorithm, whose values a bound scheduler may change),
  with ``scalars`` as Python numbers plus ``step`` (the group's own 1-based step,
  ``BucketStep.step``, for torch kernels that compute bias corrections themselves).
  ``negate`` (torch's ``maximize``)
  and ``weight_decay`` (coupled, ``g + wd·p``) are the pre-processing steps the kernel
  applies first, in that order; the optimizer passes ``False``/``0.0`` when it has
  already pre-processed the gradients (centralization or a loss scale follow the decay).
  torch's fused CPU kernels evaluate ``lerp``/``addcmul``/``add(alpha=)`` as fused
  multiply-adds, so in float32 they can differ from the rule in the last bit.
* ``native_by_default`` — ``False`` where torch's kernel computes torch's own optimizer's
  numbers but not within the conformance tolerances of the rule on every catalog case and
  no cited loosening (:mod:`optbridge.conformance.tolerances`) covers it: path ``"auto"``
  then runs the rule and only path ``"native"`` takes the kernel. No built-in kernel needs
  it today (Muon's runs by default, under its loosening: :func:`_native_muon`); a
  plugin's ``FastPath`` may set it.
* ``elementwise`` — the algorithm's ``Algorithm.elementwise``: ``False`` when the rule
  reduces over each tensor (LAMB's and LARS' trust ratios, Adafactor's factored
  statistics and norms, Muon's Newton–Schulz products): flat-buffer mode then keeps the
  bucket per tensor, and an FSDP2 parameter is stepped whole.
* ``compilable(alg)`` — ``False`` for hyperparameters whose op order ``torch.compile``
  cannot express as one graph: Adafactor's MindSpore arithmetic sums in order
  (``ops.sequential_sum``, one graph node per summed element once traced); Muon's rule,
  whose inductor graph was measured 9,268 float32 ulps from the reference after one step
  (its bfloat16 roundings and float64 products are not kept as written). The
  ``"compiled"`` and ``"auto"`` paths then run the rule eagerly, as ``"reference"`` does.
* ``update`` — what the bucket step calls: :func:`run_rule`, or a plugin's own function
  ``update(alg, params, grads, slots, scalars)`` (:func:`as_kernel`).
* ``eager`` — where set, what the bucket step calls instead of ``update`` on every path
  but ``"reference"`` (which runs the rule itself): the rule's numbers bit for bit, in
  fewer passes. Muon's (:mod:`.muon`, what ``"compiled"`` runs when torch's own step is
  not taken): its Newton–Schulz iterations convert each operand once and keep the
  bfloat16 values in bfloat16 tensors.

:func:`table` derives the backend's ``{algorithm: FastPath}`` from
``optbridge.algorithms.algorithm_registry``: every registered algorithm with a rule
(``Algorithm.has_rule()``), with the entries of :data:`FAST_PATHS` where this backend has
more to say.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from optbridge.algorithms import algorithm_registry
from optbridge.preprocess import preprocess_gradients

from . import muon
from . import ops as torch_ops

__all__ = ["FastPath", "FAST_PATHS", "as_kernel", "fast_path", "preprocess", "run_rule", "table"]

Update = Callable[[Any, Sequence[torch.Tensor], Sequence[torch.Tensor], Mapping[str, Sequence[torch.Tensor]],
                   Mapping[str, Any]], None]
Native = Callable[[Any, Sequence[torch.Tensor], Sequence[torch.Tensor], Mapping[str, Sequence[torch.Tensor]],
                   Mapping[str, Any], bool, float], None]


def run_rule(alg: Any, params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor],
             slots: Mapping[str, Sequence[torch.Tensor]], s: Mapping[str, Any]) -> None:
    """``alg.update`` on the torch ops, in place (the lists are copied: the rule rebinds entries)."""
    alg.update(torch_ops, list(params), list(grads), {k: list(v) for k, v in slots.items()}, s)


def preprocess(params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor], negate: bool,
               weight_decay: torch.Tensor | None, centralize: bool,
               grad_scale: torch.Tensor | None) -> list[torch.Tensor]:
    """The shared gradient pre-processing (:mod:`optbridge.preprocess`) on the torch ops."""
    return preprocess_gradients(torch_ops, params, grads, negate=negate, weight_decay=weight_decay,
                                centralize=centralize, grad_scale=grad_scale)


@dataclass(frozen=True)
class FastPath:
    """A canonical algorithm on the torch backend (see the module docstring).

    Attributes:
        name: the canonical algorithm name.
        update: the bucket update (default: the shared rule, :func:`run_rule`).
        native: ``native(alg) -> run | None``: torch's own kernel where its formula is the rule's.
        native_by_default: whether path ``"auto"`` takes ``native`` (else ``"native"`` only).
        elementwise: ``False`` when the rule reduces over each tensor.
        compilable: ``compilable(alg) -> bool``; ``None``: always compilable.
        eager: the rule's numbers in fewer passes, off the reference path; ``None``: ``update``.
    """

    name: str
    update: Update = run_rule
    native: Callable[[Any], Native | None] | None = None
    native_by_default: bool = True
    elementwise: bool = True
    compilable: Callable[[Any], bool] | None = None
    eager: Update | None = None

    def update_on(self, path: str) -> Update:
        """What the bucket step calls on ``path``: the rule itself on ``"reference"``."""
        return self.update if self.eager is None or path == "reference" else self.eager

    def native_for(self, alg: Any, path: str = "auto") -> Native | None:
        """torch's own kernel for these hyperparameters on ``path``, or ``None``."""
        if self.native is None or (path != "native" and not self.native_by_default):
            return None
        return self.native(alg)

    def compiles(self, alg: Any) -> bool:
        """Whether the compiled path may ``torch.compile`` ``update`` for these hyperparameters."""
        return self.compilable is None or bool(self.compilable(alg))


def _native_adam(alg: Any) -> Native | None:
    """torch's fused Adam (coupled decay) or AdamW (decoupled) for torch's own Adam form:
    ``eps_placement="paper"``, ``power_form="pow"``, ``moment_form="torch"``, no Nesterov,
    coupled or decoupled weight decay (``torch.optim.Adam``/``AdamW``'s formula)."""
    torch_form = (alg.eps_placement == "paper" and alg.power_form == "pow" and alg.moment_form == "torch"
                  and not alg.nesterov and alg.weight_decay_form in ("coupled", "decoupled"))
    if not torch_form or not hasattr(torch, "_fused_adam_"):
        return None
    decoupled = alg.weight_decay_form == "decoupled"
    steps: dict[torch.device, torch.Tensor] = {}

    def run(alg, params, grads, slots, s, negate, weight_decay) -> None:
        device = params[0].device
        step = steps.get(device)
        if step is None:
            step = steps[device] = torch.zeros((), dtype=torch.float32, device=device)
        step.fill_(s["step"])
        fused = torch._fused_adamw_ if decoupled else torch._fused_adam_
        fused(
            params, grads, slots["exp_avg"], slots["exp_avg_sq"], slots.get("max_exp_avg_sq", []),
            [step] * len(params), lr=s["lr"], beta1=alg.beta1, beta2=alg.beta2,
            weight_decay=s["weight_decay"] if decoupled else weight_decay, eps=alg.eps, amsgrad=alg.amsgrad,
            maximize=negate,
        )

    return run


def _native_sgd(alg: Any) -> Native | None:
    """torch's fused SGD (``torch.optim.SGD``'s formula: first step ``b = g``, later
    ``b = b·μ + (1−dampening)·g``, update ``g + μ·b`` with Nesterov, else ``b``) for
    ``momentum_form == "buffer"``, coupled weight decay, and torch's Nesterov or none."""
    if alg.momentum_form != "buffer" or alg.weight_decay_form != "coupled":
        return None
    if alg.nesterov and alg.nesterov_form != "torch":
        return None
    if not hasattr(torch, "_fused_sgd_"):
        return None

    def run(alg, params, grads, slots, s, negate, weight_decay) -> None:
        # the host scalars, not the hyperparameters: a float32-precision spec rounds them
        buffers = slots["momentum_buffer"] if alg.momentum != 0.0 else []
        torch._fused_sgd_(
            params, grads, buffers, weight_decay=weight_decay, momentum=s["momentum"], lr=s["lr"],
            dampening=1.0 - s["one_minus_dampening"], nesterov=alg.nesterov, maximize=negate,
            is_first_step=bool(s["first_step"]),
        )

    return run


def _native_muon(alg: Any) -> Native | None:
    """torch's own Muon step (``torch.optim._muon._single_tensor_muon``: ``lerp_`` momentum,
    the Newton–Schulz iterations as bfloat16 ``@``/``addmm`` summed by ATen in float32,
    ``p·(1 − lr·wd)``, ``add_(O, alpha=−lr·scale)``) for the torch arithmetic with
    decoupled decay and torch's ``adjust_lr`` forms: the numbers of ``torch.optim.Muon``.

    The rule sums the bfloat16 products exactly (float64) so every backend agrees; torch's
    float32 sums can round a result near a bfloat16 boundary the other way, which the
    iterations spread: up to 1.1e-4 relative (1,311 float32 ulps) on 5 of the 24 catalog
    Muon runs. That is ``torch.optim.Muon``'s own distance from the rule, which the torch
    dialect reproduces, and the conformance suite allows it on this backend by a cited
    loosening (:data:`optbridge.conformance.tolerances.TOLERANCES`). So ``"auto"`` takes
    this step: ``torch.optim.Muon``'s numbers at its speed, on CPU and on CUDA (whose
    float64 products the rule's exact sums would need); ``"compiled"`` runs the rule's
    numbers through :func:`.muon.update` and ``"reference"`` the rule itself."""
    if (alg.arithmetic != "torch" or alg.weight_decay_form != "decoupled"
            or alg.adjust_lr not in ("original", "match_rms_adamw")):
        return None
    try:
        from torch.optim._muon import _single_tensor_muon
    except ImportError:  # torch before 2.9 has no Muon
        return None

    def run(alg, params, grads, slots, s, negate, weight_decay) -> None:
        if negate:
            grads = [torch.neg(g) for g in grads]
        if weight_decay:
            grads = [g.add(p, alpha=weight_decay) for p, g in zip(params, grads)]
        _single_tensor_muon(
            list(params), list(grads), list(slots["momentum_buffer"]), lr=s["lr"], weight_decay=s["weight_decay"],
            momentum=s["momentum"], nesterov=alg.nesterov, ns_coefficients=(s["ns_a"], s["ns_b"], s["ns_c"]),
            ns_steps=alg.ns_steps, eps=s["eps"], adjust_lr_fn=alg.adjust_lr, has_complex=False)

    return run


def _adafactor_compiles(alg: Any) -> bool:
    """The torch arithmetic compiles; the MindSpore arithmetic's in-order sums do not."""
    return alg.arithmetic == "torch"


#: What this backend knows beyond each rule, for the algorithms where it knows something.
FAST_PATHS: dict[str, FastPath] = {
    "adam": FastPath("adam", native=_native_adam),
    "sgd": FastPath("sgd", native=_native_sgd),
    "adafactor": FastPath("adafactor", compilable=_adafactor_compiles),
    "muon": FastPath("muon", native=_native_muon, compilable=lambda alg: False, eager=muon.update),
}


def fast_path(name: str) -> FastPath | None:
    """The registered algorithm ``name`` on this backend, or ``None`` when it defines no
    shared rule (a plugin's algorithm then needs a kernel of its own, :func:`as_kernel`)."""
    cls = algorithm_registry.get(name)
    if cls is None or not cls.has_rule():
        return None
    return dataclasses.replace(FAST_PATHS.get(name) or FastPath(name), elementwise=cls.elementwise)


def table() -> dict[str, FastPath]:
    """``{algorithm: FastPath}`` for every registered algorithm this backend runs."""
    out = {}
    for name in algorithm_registry:
        entry = fast_path(name)
        if entry is not None:
            out[name] = entry
    return out


def as_kernel(name: str, kernel: Any) -> FastPath:
    """Accept a :class:`FastPath` or a bare ``update`` function (plugin-added kernels); a bare
    function of a registered algorithm takes its ``elementwise``."""
    if isinstance(kernel, FastPath):
        return kernel
    if callable(kernel):
        cls = algorithm_registry.get(name)
        return FastPath(name, update=kernel, elementwise=cls.elementwise if cls is not None else True)
    raise TypeError(f"torch kernel for {name!r} must be a FastPath or a callable. Received: {type(kernel).__name__}")
