"""Muon, MomentUm Orthogonalized by Newton–Schulz (Jordan et al. 2024,
https://kellerjordan.github.io/posts/muon/; Liu et al. 2025, "Muon is Scalable for LLM
Training", arXiv:2502.16982).

Canonical algorithm ``"muon"``. Lowered to by torch ``optim.Muon`` (torch 2.13,
``torch/optim/_muon.py``: ``_single_tensor_muon``, ``_zeropower_via_newtonschulz``,
``_adjust_lr``) and Keras ``optimizers.Muon`` (Keras 3.15, ``keras/src/optimizers/muon.py``:
``_muon_update_step``, ``zeropower_via_newtonschulz5``, ``lr_adjust``,
``_adamw_update_step``, ``_apply_weight_decay``). The step orthogonalises the
(Nesterov) momentum of a matrix with ``ns_steps`` Newton–Schulz iterations of the quintic
``X ← a·X + (b·A + c·A·A)·X``, ``A = X·Xᵀ`` (on the wide orientation: a tall matrix is
transposed first and back after), then steps along it.

Dialect axes, each an explicit flag:

* ``arithmetic`` — ``"torch"``: the iteration in **bfloat16** whatever the parameter's
  dtype (``grad.bfloat16()``; each bfloat16 op computed in float32 and rounded once, a
  product summed in float32: ``addmm`` rounds ``β·C + α·A·B`` once), the momentum as
  ``lerp``, the norm clamped to ``ε``; only 2-D parameters (``ValueError`` otherwise, as
  torch's constructor). ``"keras"``: the iteration in the parameter's dtype, the
  momentum as ``m + (g + m·(μ − 1))``, ``X/(‖X‖ + 1e-7)``; a parameter that is not 2-D,
  an embedding (``"embedding"`` in its name, ``exclude_embeddings``) or one matched by
  ``exclude_layers`` (``re.search``) takes Keras's AdamW step instead (the ``"adamw"``
  partition, :meth:`Muon.partition`), with its own ``adam_weight_decay``.
* ``adjust_lr`` — the step's scale for a ``A×B`` matrix: ``"original"``
  ``√max(1, A/B)`` (torch's default), ``"match_rms_adamw"`` ``0.2·√max(A, B)`` (torch),
  both in float64 times ``lr`` (Python floats); ``"rms_rate"`` ``((lr·O)·√max(A, B))·rms_rate``
  in the parameter's dtype (Keras's ``lr_adjust``); ``"none"``.
* ``weight_decay_form`` — ``"decoupled"`` (torch: ``p·(1 − lr·wd)``) or ``"keras"``
  (``p − (p·wd)·lr``); both applied by the rule before the step.

Slots: ``"torch"``: ``momentum_buffer`` (torch's name). ``"keras"``: ``momentum`` and
``velocity`` (Keras's names; Keras keeps ``velocity`` for the AdamW variables only, here
every parameter has one, zeros on the Muon ones).

Host scalars: ``lr`` (``"torch"``: float64, as torch's ``_adjust_lr`` multiplies Python
floats, :attr:`Muon.float64_scalars`), ``weight_decay`` (``"adamw"`` partition:
``adam_weight_decay`` where the parameter is decayed, none for ``None``), ``momentum``,
``one_minus_momentum = 1 − μ`` (torch) or ``momentum_minus_one = μ − 1`` (Keras), both
formed in float64 as the frameworks write them on Python floats, ``ns_a``, ``ns_b``,
``ns_c``, ``eps``, ``rms_rate``, ``decay = 1 − lr·wd`` (``"decoupled"``), and for
``"keras"`` the flag ``muon`` (the bucket's partition) and ``adam``: the scalars of
canonical Adam with Keras's flags at ``lr·adam_lr_ratio``.

Canonical op order, torch (``g`` after negation for ``maximize``; ``B`` the
``momentum_buffer``; ``bf(·)`` rounds to bfloat16, :func:`optbridge.ops.Ops.round_bfloat16`):

1. ``B = lerp(B, g, 1 − μ)``; ``U = lerp(g, B, μ)`` with ``nesterov``, else ``U = B``.
2. ``X = bf(U)`` (float32 carrier), transposed if ``A > B``; ``X = bf(X / max(bf(‖X‖), ε))``.
3. ``ns_steps`` times: ``G = bf(X·Xᵀ)``; ``H = bf(G·b + (G·G)·c)``; ``X = bf(X·a + H·X)``,
   each product and the norm formed in float64 (``a``, ``b``, ``c`` their float32
   values), the float64 result rounded to float32, then to bfloat16.
4. ``p = p·decay``; ``p = p − O·(lr·scale)`` (``O = X`` transposed back, exact in ``p``'s
   dtype; ``lr·scale`` in float64, then rounded to ``p``'s dtype).

Canonical op order, keras (all in the parameter's dtype; ``m`` the ``momentum`` slot):

0. ``p = p − (p·wd)·lr``.
1. Muon partition: ``m = m + (g + m·(μ − 1))``; ``U = g + m·μ`` with ``nesterov``, else ``U = m``.
2. ``X = U``, transposed if ``A > B``; ``X = X / (‖X‖ + 1e-7)`` (the norm summed in float64).
3. ``ns_steps`` times: ``A = X·Xᵀ``; ``H = A·b + (A·c)·A``; ``X = X·a + H·X`` (float32
   products summed in float64, rounded once).
4. ``p = p − ((lr·O)·√max(A, B))·rms_rate`` (``"rms_rate"``), or ``p = p − lr·O``.
5. AdamW partition: Keras's Adam step (canonical Adam's ``"hat"`` order with Keras's
   moments): ``m = m + (g − m)·(1 − β₁)``, ``v = v + (g·g − v)·(1 − β₂)``,
   ``p = p − (step_size·m)/(√v + ε)``, ``step_size = lr'·√(1 − β₂ᵗ)/(1 − β₁ᵗ)``,
   ``lr' = lr·adam_lr_ratio``.

A 2-D parameter's partition is a flag (traced on compiled backends), so its Muon and
AdamW values are formed as pure expressions selected with ``ops.cond`` and written after.
The matrix products sum in each backend's BLAS order (``matmul`` in :mod:`optbridge.ops`).
In ``"torch"`` arithmetic the operands are bfloat16 values (8 significant bits), so their
float64 products are exact and so are the sums unless the magnitudes span more than about
37 binary orders: every backend then gets the same bits. torch sums in float32, and
rounds once to bfloat16 where the rule rounds float64 → float32 → bfloat16, so a result
near a bfloat16 rounding boundary may differ from torch's by one bfloat16 ulp; its fused
multiply-adds (``lerp_``, ``add_(alpha=)``) differ from the rule's two roundings in the
last bit. (torch rounds a float64 gradient to bfloat16 directly; the rule rounds it to
float32 first.) In ``"keras"`` arithmetic a float32 product is summed in float64 and
rounded once (Keras sums in float32 in its BLAS order: a last-bit difference, which the
iterations spread), so backends agree bitwise as far as the float64 sums are exact; a
float64 product is summed in the backend's order, within the suite's tolerance.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SpecValueError
from .adam import Adam
from .base import FLAG, NUMBER, Algorithm, HostStep, Slot, register_algorithm, scalar_type
from .weight_decay import apply_rule_decay, check_choice, decay_scalars, declared_decay_scalars

if TYPE_CHECKING:
    from ..groups import ParamInfo

__all__ = ["Muon", "MUON_ADJUST_LR"]

#: the ``adjust_lr`` values (module docstring)
MUON_ADJUST_LR = ("original", "match_rms_adamw", "rms_rate", "none")


@register_algorithm
@dataclass(frozen=True)
class Muon(Algorithm):
    """Canonical Muon. See the module docstring for the op order."""

    name = "muon"
    elementwise = False
    weight_decay_applied_by = "rule"
    momentum: float = 0.95
    nesterov: bool = True
    ns_a: float = 3.4445
    ns_b: float = -4.7750
    ns_c: float = 2.0315
    ns_steps: int = 5
    eps: float = 1e-7
    adjust_lr: str = "original"
    rms_rate: float = 0.2
    arithmetic: str = "torch"
    weight_decay_form: str = "decoupled"
    exclude_embeddings: bool = False
    exclude_layers: tuple[str, ...] = ()
    adam_beta_1: float = 0.9
    adam_beta_2: float = 0.999
    adam_epsilon: float = 1e-7
    adam_lr_ratio: float = 1.0
    adam_weight_decay: float | None = None

    def __post_init__(self) -> None:
        check_choice(self.name, "arithmetic", self.arithmetic, ("torch", "keras"))
        check_choice(self.name, "adjust_lr", self.adjust_lr, MUON_ADJUST_LR)
        check_choice(self.name, "weight_decay_form", self.weight_decay_form, ("decoupled", "keras"))
        if not isinstance(self.ns_steps, int) or isinstance(self.ns_steps, bool) or not 0 <= self.ns_steps < 100:
            raise ValueError(f"canonical 'muon': ns_steps must be an int in [0, 100). Received: {self.ns_steps!r}")
        if isinstance(self.exclude_layers, (list, str)):
            object.__setattr__(self, "exclude_layers",
                               (self.exclude_layers,) if isinstance(self.exclude_layers, str)
                               else tuple(self.exclude_layers))
        for pattern in self.exclude_layers:
            re.compile(pattern)

    @property
    def float64_scalars(self) -> frozenset[str]:
        """torch multiplies ``lr`` by the shape's scale in Python floats (float64)."""
        return frozenset({"lr"}) if self.arithmetic == "torch" else frozenset()

    def _adam(self) -> Adam:
        """Keras's AdamW step of the ``"adamw"`` partition (decay applied by Muon's step 0)."""
        return Adam(beta1=self.adam_beta_1, beta2=self.adam_beta_2, eps=self.adam_epsilon, eps_placement="hat",
                    power_form="pow", moment_form="keras", weight_decay_form="coupled")

    def uses_adamw(self, name: str, shape: Sequence[int]) -> bool:
        """Keras's ``_should_use_adamw``: not 2-D, an embedding, or an excluded layer."""
        if self.arithmetic != "keras":
            return False
        if len(shape) != 2:
            return True
        if self.exclude_embeddings and "embedding" in name.lower():
            return True
        return any(re.search(keyword, name) for keyword in self.exclude_layers)

    def partition(self, params: Sequence[ParamInfo]) -> Mapping[str, str]:
        """``"keras"``: ``"adamw"`` or ``"muon"`` per parameter (:meth:`uses_adamw`).
        ``"torch"``: no partition; a parameter that is not 2-D is refused when the
        optimizer is built, as torch's constructor refuses it (``ValueError``)."""
        if self.arithmetic != "keras":
            for p in params:
                if len(p.shape) != 2:
                    raise SpecValueError(f"Muon only supports 2D parameters whereas we found a parameter with "
                                         f"size: torch.Size({list(p.shape)}) ({p.name!r})")
            return {}
        return {p.name: "adamw" if self.uses_adamw(p.name, p.shape) else "muon" for p in params}

    # -- the rule -----------------------------------------------------------------------------
    def update_tensor(self, ops, p, g, state, s):
        if self.arithmetic == "torch":
            return self._torch_update(ops, p, g, state, s)
        return self._keras_update(ops, p, g, state, s)

    def update_orthogonalized(self, ops: Any, params: list, grads: Sequence[Any], slots: Mapping[str, list],
                              scalars: Mapping[str, Any], orthogonalize: Any) -> None:
        """:meth:`update` in the torch arithmetic with steps 2-3 (the bfloat16 Newton–Schulz
        iterations) computed by ``orthogonalize(update)``: a backend's own implementation of
        :meth:`newton_schulz_bf16`, which must return its values exactly (as float32, or
        as bfloat16 holding them). Every other step is the rule's own code."""
        if self.arithmetic != "torch":
            raise ValueError("update_orthogonalized runs the torch arithmetic only")
        buffers = slots["momentum_buffer"]
        for i, (p, g) in enumerate(zip(params, grads)):
            state = {"momentum_buffer": buffers[i]}
            params[i] = self._torch_update(ops, p, g, state, scalars, orthogonalize)
            buffers[i] = state["momentum_buffer"]

    def _torch_update(self, ops, p, g, state, s, orthogonalize=None):
        shape = tuple(ops.shape_of(p))
        mu = self.momentum
        buf = state["momentum_buffer"]
        buf = state["momentum_buffer"] = ops.blockwise_(
            ops.assign_, buf, lambda b, g: ops.lerp(b, g, s["one_minus_momentum"], small=abs(1.0 - mu) < 0.5), buf, g)
        update = ops.lerp(g, buf, s["momentum"], small=abs(mu) < 0.5) if self.nesterov else buf
        ortho = self.newton_schulz_bf16(ops, update) if orthogonalize is None else orthogonalize(update)
        p = apply_rule_decay(ops, self.weight_decay_form, p, s)
        dtype = ops.dtype_of(p)
        scaled_lr = ops.astype(s["lr"] * ops.scalar(_torch_scale(self.adjust_lr, shape), s["lr"]), dtype)
        return ops.sub_scaled_(p, ops.astype(ortho, dtype), scaled_lr)

    def newton_schulz_bf16(self, ops: Any, update: Any) -> Any:
        """Steps 2-3 of the torch order: bfloat16 values carried in float32, each product
        and norm summed in float64 (exact for bfloat16 operands of moderate range, so
        every backend gets the same bits whatever its BLAS order), then rounded."""
        bf = ops.round_bfloat16

        def wide(x: Any) -> Any:
            return ops.astype(x, "float64")

        def narrow(x: Any) -> Any:
            return bf(ops.astype(x, "float32"))

        def mm(x: Any, y: Any) -> Any:
            return ops.matmul(wide(x), wide(y))

        rows, cols = ops.shape_of(update)
        x = bf(ops.astype(update, "float32"))
        if rows > cols:
            x = ops.transpose(x)
        eps = ops.scalar(self.eps, x)
        x = bf(ops.div(x, ops.maximum(narrow(ops.norm(x, "float64")), eps)))
        a, b, c = (ops.scalar(float(np.float32(v)), wide(x)) for v in (self.ns_a, self.ns_b, self.ns_c))
        for _ in range(self.ns_steps):
            gram = narrow(mm(x, ops.transpose(x)))
            gram_update = narrow(wide(gram) * b + mm(gram, gram) * c)
            x = narrow(wide(x) * a + mm(gram_update, x))
        return ops.transpose(x) if rows > cols else x

    def _keras_update(self, ops, p, g, state, s):
        shape = tuple(ops.shape_of(p))
        p = apply_rule_decay(ops, self.weight_decay_form, p, s)
        m, v = state["momentum"], state["velocity"]
        adam = s["adam"]

        def adam_moments() -> tuple[Any, Any]:
            return m + (g - m) * adam["one_minus_beta1"], v + (g * g - v) * adam["one_minus_beta2"]

        def adam_delta(m: Any, v: Any) -> Any:
            return ops.div(adam["step_size"] * m, ops.sqrt(v) + adam["eps"])

        if len(shape) != 2:
            new_m, new_v = adam_moments()
            state["momentum"] = ops.assign_(m, new_m)
            state["velocity"] = ops.assign_(v, new_v)
            return ops.sub_(p, adam_delta(state["momentum"], state["velocity"]))
        flag = s["muon"]
        muon_m = ops.cond(flag, lambda: m + (g + m * s["momentum_minus_one"]), lambda: adam_moments()[0])
        new_v = ops.cond(flag, lambda: v, lambda: adam_moments()[1])
        delta = ops.cond(flag, lambda: self._keras_muon_delta(ops, g, muon_m, s, shape),
                         lambda: adam_delta(muon_m, new_v))
        state["momentum"] = ops.assign_(m, muon_m)
        state["velocity"] = ops.assign_(v, new_v)
        return ops.sub_(p, delta)

    def _keras_muon_delta(self, ops, g, m, s, shape):
        """Steps 1 (Nesterov) to 4 of the keras order: the amount subtracted from ``p``."""
        x = g + m * s["momentum"] if self.nesterov else m
        rows, cols = shape
        if rows > cols:
            x = ops.transpose(x)
        a, b, c = s["ns_a"], s["ns_b"], s["ns_c"]
        dtype = ops.dtype_of(x)
        x = ops.div(x, ops.astype(ops.norm(x, "float64"), dtype) + s["eps"])

        def mm(u: Any, w: Any) -> Any:
            # float32 products summed in float64 (exact products; the sum rounded once to
            # float32 on every backend, whatever its BLAS order); float64 as it is
            if dtype == "float64":
                return ops.matmul(u, w)
            return ops.astype(ops.matmul(ops.astype(u, "float64"), ops.astype(w, "float64")), dtype)

        for _ in range(self.ns_steps):
            gram = mm(x, ops.transpose(x))
            x = x * a + mm(gram * b + mm(gram * c, gram), x)
        if rows > cols:
            x = ops.transpose(x)
        step = s["lr"] * x
        if self.adjust_lr == "rms_rate":
            root = ops.scalar(float(np.sqrt(np.float32(max(rows, cols)))), x)
            step = step * root * s["rms_rate"]
        return step

    # -- slots and scalars ---------------------------------------------------------------------
    def slots(self) -> tuple[Slot, ...]:
        if self.arithmetic == "torch":
            return (Slot("momentum_buffer"),)
        return (Slot("momentum"), Slot("velocity"))

    def declared_scalars(self) -> dict[str, Any]:
        names = ["momentum", "ns_a", "ns_b", "ns_c", "eps", "rms_rate",
                 "one_minus_momentum" if self.arithmetic == "torch" else "momentum_minus_one"]
        declared: dict[str, Any] = {**super().declared_scalars(), **dict.fromkeys(names, NUMBER),
                                    **declared_decay_scalars(self.weight_decay_form)}
        if self.arithmetic == "keras":
            declared["muon"] = FLAG
            declared["adam"] = self._adam().declared_scalars()
        return declared

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        wd = hs.weight_decay
        if hs.partition == "adamw" and wd != 0.0:
            wd = 0.0 if self.adam_weight_decay is None else float(t(self.adam_weight_decay))
        scalars: dict[str, Any] = {
            "lr": hs.lr,
            "weight_decay": wd,
            "momentum": float(t(self.momentum)),
            "ns_a": float(t(self.ns_a)),
            "ns_b": float(t(self.ns_b)),
            "ns_c": float(t(self.ns_c)),
            "eps": float(t(self.eps)),
            "rms_rate": float(t(self.rms_rate)),
            **decay_scalars(self.weight_decay_form, hs.lr, wd),
        }
        if self.arithmetic == "torch":
            scalars["one_minus_momentum"] = 1.0 - self.momentum
            return scalars, dict(host_state)
        scalars["momentum_minus_one"] = self.momentum - 1.0
        scalars["muon"] = hs.partition != "adamw"
        adam_lr = float(t(hs.lr) * t(self.adam_lr_ratio))
        scalars["adam"], _ = self._adam().host_scalars({}, HostStep(lr=adam_lr, weight_decay=0.0, step=hs.step),
                                                        precision)
        return scalars, dict(host_state)


def _torch_scale(adjust_lr: str, shape: tuple[int, ...]) -> float:
    """torch's ``_adjust_lr`` ratio for a ``A×B`` parameter, in Python floats."""
    rows, cols = shape[:2]
    if adjust_lr == "original":
        return math.sqrt(max(1, rows / cols))
    if adjust_lr == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    return 1.0
