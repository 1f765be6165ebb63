"""The dialect-difference tables, generated from the specs.

For every registered dialect class the class is built with its defaults and lowered to
its canonical spec. How to build a class with its defaults is passed in
(``build_default(qualname) -> dialect optimizer``): the representative hyperparameter sets
live in the conformance catalog, which builds on this layer, not under it;
:mod:`optbridge.conformance.dialect_table` passes them and writes
``docs/dialect-differences.md``.

Classes are grouped by canonical algorithm name; each algorithm's table has one row per
dialect class and one column per property whose value differs between them: the
algorithm's hyperparameters and flags (epsilon placement, Nesterov form, bias
correction / power form, weight-decay form, ...), the initial value of every state slot,
whether weight decay is coupled (``g + wd·p`` before the update) or applied by the
kernel, the MindSpore beta/gamma decay filter, and the host-scalar precision.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..spec import OptimizerSpec
from .base import DialectOptimizer, dialect_registry

__all__ = ["AXIS_WORDS", "axis_words", "canonical_properties", "dialect_properties", "dialect_table_markdown", "main"]

#: ``build_default(qualname)``: the registered dialect class ``qualname`` built with its defaults
DefaultBuilder = Callable[[str], DialectOptimizer]


def _format(value: Any) -> str:
    if hasattr(value, "name") and hasattr(value, "hyperparameters"):
        return f"{value.name}"
    return repr(value)


def dialect_properties(build_default: DefaultBuilder) -> dict[str, dict[str, dict[str, str]]]:
    """``{algorithm: {dialect qualname: {property: value}}}`` for every registered class.

    Args:
        build_default: builds the class named ``qualname`` with its defaults.
    """
    table: dict[str, dict[str, dict[str, str]]] = {}
    for qualname in sorted(dialect_registry):
        spec = build_default(qualname).to_canonical()
        if len(spec.group_algorithms()) > 1 or getattr(dialect_registry[qualname], "wraps_optimizer", False):
            continue  # a composition (Keras MultiOptimizer) or a wrapper (LossScaleOptimizer): no row of its own
        table.setdefault(spec.algorithm.name, {})[qualname] = canonical_properties(spec)
    return table


def canonical_properties(spec: OptimizerSpec) -> dict[str, str]:
    """``{property: value}`` of one canonical spec: the columns of the dialect table (the
    algorithm's hyperparameters and flags, initial slot values, weight-decay coupling, the
    beta/gamma decay filter, host precision, pre-processing)."""
    algorithm = spec.algorithm
    props = {name: _format(value) for name, value in algorithm.hyperparameters().items()}
    for slot in algorithm.slots():
        props[f"slot {slot.name} init"] = repr(slot.init)
    props["weight decay applied"] = "kernel" if algorithm.weight_decay_applied_by == "rule" else "coupled g+wd·p"
    props["beta/gamma decay filter"] = repr(spec.decay_filter == "mindspore")
    props["host precision"] = spec.precision
    props["pre-processing"] = ", ".join(spec.preprocess) or "none"
    return props


_EPS_ROOT = {"outside": "ε outside the square root: √s + ε", "inside": "ε inside the square root: √(s + ε)",
             "none": "no ε"}
_DECAY_FORMS = {
    "coupled": "coupled L2: g + wd·p before the update",
    "decoupled": "decoupled: p·(1 − lr·wd) before the update (AdamW)",
    "keras": "Keras: p − (p·wd)·lr before the update",
    "inside": "wd·p added to the update direction inside the trust ratio",
    "mindspore": "MindSpore: decay added to the update, scaled like it",
}
_ARITHMETIC = {"torch": "torch's", "keras": "Keras's", "mindspore": "MindSpore's"}

#: ``{property or "algorithm.property": (axis in words, {value: what it means})}`` for the
#: flags of the dialect table (DIALECTS.md). A property not listed is a plain
#: hyperparameter, named as it is.
AXIS_WORDS: dict[str, tuple[str, dict[str, str]]] = {
    "adam.eps_placement": ("ε inside vs outside the bias correction", {
        "hat": "ε-hat: ε added to the uncorrected √v, bias corrections folded into the step size",
        "paper": "ε added after the bias correction: √v̂ + ε"}),
    "adagrad.eps_placement": ("ε inside vs outside the square root", _EPS_ROOT),
    "rmsprop.eps_placement": ("ε inside vs outside the square root", _EPS_ROOT),
    "adamax.eps_placement": ("ε in the max vs in the denominator", {
        "max": "u = max(β₂·u, |g| + ε), divide by u", "denominator": "u = max(β₂·u, |g|), divide by u + ε"}),
    "power_form": ("how β₁ᵗ, β₂ᵗ are computed", {
        "accumulate": "accumulated products (βᵗ ← βᵗ⁻¹·β) in the host precision",
        "pow": "a power β**t each step"}),
    "moment_form": ("op order of the moment updates", {
        "lerp": "m + (g − m)·(1 − β)", "keras": "m + (g − m)·(1 − β) with 1 − β rounded from float64",
        "torch": "torch's lerp_ and mul_/addcmul_"}),
    "weight_decay_form": ("weight-decay form", _DECAY_FORMS),
    "weight decay applied": ("where weight decay is applied", {
        "kernel": "by the update rule", "coupled g+wd·p": "added to the gradient before the update"}),
    "arithmetic": ("whose float op order the update follows", {k: f"{v} op order" for k, v in _ARITHMETIC.items()}),
    "lr_placement": ("lr inside vs outside the momentum buffer", {
        "inside": "the buffer holds lr·g/d", "outside": "the buffer holds g/d, lr applied after"}),
    "momentum_form": ("lr inside vs outside the momentum buffer", {
        "buffer": "b = μ·b + g, p −= lr·b", "keras": "v = μ·v − lr·g, p += v"}),
    "nesterov_form": ("Nesterov form", {
        "torch": "u = g + μ·b, p −= lr·u", "scaled": "p −= g·lr + b·μ·lr (MindSpore nn.Momentum)"}),
    "form": ("NAdam momentum schedule", {
        "torch": "μₜ = β₁(1 − ½·0.96^(0.004·t))", "keras": "μₜ = β₁(1 − ½·0.96^t)"}),
    "eps1_placement": ("Adafactor ε₁ placement", {
        "add": "ε₁ added to g² before averaging", "clamp": "variance clamped to at least ε₁²"}),
    "lr_rule": ("Adafactor relative step size", {
        "min_lr": "min(lr, 1/√t)", "lr": "lr", "relative": "min(1e-2, 1/√t), lr unused",
        "relative_warmup": "min(1e-6·t, 1/√t), lr unused"}),
    "muon.adjust_lr": ("Muon's step scale for an A×B matrix", {
        "original": "lr·√max(1, A/B) (torch's default)", "match_rms_adamw": "lr·0.2·√max(A, B) (torch)",
        "rms_rate": "((lr·O)·√max(A, B))·rms_rate (Keras's lr_adjust)", "none": "lr"}),
    "l1_sign": ("sign of l1 in FTRL's closed form", {
        "signed": "(sign(u)·l1 − u)/q", "positive": "(l1 − u)/q, MindSpore 2.10's CPU kernel"}),
    "power_precision": ("precision of FTRL's n**p", {
        "float64": "float64, rounded to the parameter's dtype", "native": "in the parameter's dtype"}),
    "eta_mu_float32": ("ASGD's eta and mu stored as float32 (torch)", {}),
    "beta/gamma decay filter": ("MindSpore's default weight-decay filter", {
        "True": "names containing 'beta' or 'gamma' are not decayed", "False": "every parameter is decayed"}),
    "host precision": ("precision of the host scalars (lr, bias corrections)", {
        "float32": "as MindSpore and Keras compute them", "float64": "Python floats, as torch computes them"}),
    "adam.nesterov": ("Nesterov momentum in Adam (MindSpore use_nesterov)", {
        "True": "numerator β₁·m + (1 − β₁)·g", "False": "numerator m"}),
    "sgd.nesterov": ("Nesterov momentum", {}),
    "amsgrad": ("AMSGrad: the running maximum of v in the denominator", {}),
    "centered": ("centered RMSProp (mean of g subtracted)", {}),
    "maximize": ("maximize (gradients negated)", {}),
    "pre-processing": ("gradient pre-processing before the update", {}),
    "gradient pipeline": ("gradient transforms around the update (clipping, loss scaling, accumulation, EMA), "
                          "in order", {}),
}


def axis_words(algorithm: str, key: str) -> tuple[str, dict[str, str]]:
    """The axis a dialect-table property stands for, in words, and the meaning of its values
    (``{}`` where the value speaks for itself); a plain hyperparameter is named as it is."""
    if key.startswith("slot ") and key.endswith(" init"):
        return f"initial value of the {key[5:-5]} state", {}
    return AXIS_WORDS.get(f"{algorithm}.{key}") or AXIS_WORDS.get(key) or (f"hyperparameter {key}", {})


def dialect_table_markdown(build_default: DefaultBuilder, preamble: Sequence[str] = ()) -> str:
    """The Markdown page: ``preamble`` (lines), then one table per canonical algorithm,
    differing properties only.

    Args:
        build_default: builds the class named ``qualname`` with its defaults.
        preamble: the page's opening lines (title, how it was generated).
    """
    lines = list(preamble)
    for algorithm, rows in sorted(dialect_properties(build_default).items()):
        names = list(rows)
        keys: list[str] = []
        for props in rows.values():
            keys += [k for k in props if k not in keys]
        if len(names) > 1:
            keys = [k for k in keys if len({rows[n].get(k, "—") for n in names}) > 1]
        lines.append(f"## `{algorithm}`")
        lines.append("")
        if not keys:
            lines.append(f"{', '.join(f'`{n}`' for n in names)}: identical canonical form.")
            lines.append("")
            continue
        lines.append("| dialect class | " + " | ".join(keys) + " |")
        lines.append("|---" * (len(keys) + 1) + "|")
        for n in names:
            cells = [rows[n].get(k, "—").replace("|", "\\|") for k in keys]
            lines.append(f"| `{n}` | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None, build_default: DefaultBuilder, preamble: Sequence[str] = ()) -> int:
    """Write the page to the path given in ``argv`` (stdout without one)."""
    argv = sys.argv[1:] if argv is None else argv
    text = dialect_table_markdown(build_default, preamble)
    if argv:
        with open(argv[0], "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit("write the page with: python -m optbridge.conformance.dialect_table docs/dialect-differences.md "
                     "(it passes the conformance catalog's default constructions)")
