"""Generate golden float32 trajectories from MindSpore 2.10 for the MindSpore dialect.

Run inside an environment with ``mindspore==2.10.0``, ``numpy<2`` and optbridge installed
(``tox -e goldens``). Every case is an optbridge config; the script builds the same
optimizer in MindSpore from it (``optbridge.conformance.against.mindspore_optimizer``, the
builder of ``conform --against mindspore``: group selectors resolved by optbridge,
schedules by class name), feeds both the deterministic gradient stream of ``optbridge.conformance.streams``
and records every parameter after every step as float32 bit patterns.

Output: ``tests/goldens/mindspore_optimizers.json``.
"""
from __future__ import annotations

import base64
import json
import platform
import sys
from pathlib import Path

import numpy as np

import mindspore
from mindspore import Parameter, Tensor

from optbridge.conformance import layouts, streams
from optbridge.conformance.against import mindspore_optimizer

OUT = Path(__file__).with_name("mindspore_optimizers.json")
STEPS = 8
SEED = 7

COSINE = {"schedule": "mindspore.nn.CosineDecayLR", "min_lr": 0.01, "max_lr": 0.1, "decay_steps": 6}
POLY = {"schedule": "mindspore.nn.PolynomialDecayLR", "learning_rate": 0.1, "end_learning_rate": 0.01,
        "decay_steps": 4, "power": 0.5}
WARMUP = {"schedule": "mindspore.nn.WarmUpLR", "learning_rate": 0.01, "warmup_steps": 4}
EXP_WD = {"schedule": "mindspore.nn.ExponentialDecayLR", "learning_rate": 0.02, "decay_rate": 0.5,
          "decay_steps": 3}
GUIDE_GROUPS = [
    {"params": "conv*", "weight_decay": 1e-4,
     "lr": [0.1, 0.09, 0.08, 0.07, 0.06, 0.05, 0.04, 0.03, 0.02, 0.01]},
    {"params": {"name_contains": ["gamma", "beta"]}, "weight_decay": 0.0, "lr": 1e-4},
    {"params": ["fc.weight"], "weight_decay": 1e-5, "lr": 1e-3},
    {"params": "*"},
    {"order_params": [name for name, _ in layouts.tiny]},
]


def case(name, optimizer, **arguments):
    return {"name": name, "config": {"format_version": 1, "optimizer": f"mindspore.nn.{optimizer}", **arguments}}


CASES = [
    case("momentum_basic", "Momentum", learning_rate=0.1, momentum=0.9),
    case("momentum_weight_decay", "Momentum", learning_rate=0.05, momentum=0.9, weight_decay=0.01),
    case("momentum_guide_groups", "Momentum", params=GUIDE_GROUPS, learning_rate=1e-3, momentum=0.9),
    case("momentum_schedule", "Momentum", learning_rate=POLY, momentum=0.8),
    case("momentum_loss_scale", "Momentum", learning_rate=0.1, momentum=0.9, weight_decay=0.01,
         loss_scale=128.0),
    case("momentum_dynamic_weight_decay", "Momentum", learning_rate=0.1, momentum=0.9, weight_decay=EXP_WD),
    case("momentum_nesterov", "Momentum", learning_rate=0.1, momentum=0.9, use_nesterov=True),
    case("momentum_zero", "Momentum", learning_rate=0.1, momentum=0.0),
    case("sgd_plain", "SGD", learning_rate=0.1),
    case("sgd_dampening", "SGD", learning_rate=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01),
    case("sgd_nesterov", "SGD", learning_rate=0.05, momentum=0.9, nesterov=True),
    case("sgd_groups", "SGD", params=[{"params": "conv*", "lr": 0.2}, {"params": "*", "weight_decay": 0.05}],
         learning_rate=0.1, momentum=0.5, loss_scale=8.0),
    case("asgd_default", "ASGD", learning_rate=0.1),
    case("asgd_averaging", "ASGD", learning_rate=0.05, lambd=1e-2, alpha=0.5, t0=3.0, weight_decay=0.01),
    case("asgd_groups_schedule", "ASGD", params=[{"params": "fc.*", "lr": COSINE}, {"params": "*"}],
         learning_rate=0.1, t0=2.0),
    case("adam_basic", "Adam", learning_rate=0.01),
    case("adam_nesterov_weight_decay", "Adam", learning_rate=0.01, use_nesterov=True, weight_decay=0.01),
    case("adam_amsgrad", "Adam", learning_rate=0.02, beta1=0.8, beta2=0.9, use_amsgrad=True),
    case("adam_groups_loss_scale", "Adam", params=[{"params": "conv*", "lr": WARMUP}, {"params": "*"}],
         learning_rate=0.01, eps=1e-6, loss_scale=4.0),
    case("adam_lazy", "Adam", learning_rate=0.01, use_lazy=True),
    case("adam_weight_decay_basic", "AdamWeightDecay", learning_rate=0.01, weight_decay=0.01),
    case("adam_weight_decay_groups", "AdamWeightDecay",
         params=[{"params": "conv*", "weight_decay": 0.1}, {"params": "*", "lr": POLY}],
         learning_rate=0.01, beta1=0.85, eps=1e-8),
    case("momentum_grad_centralization", "Momentum",
         params=[{"params": "conv*", "grad_centralization": True}, {"params": "*"}],
         learning_rate=0.1, momentum=0.9),
]

# -- sgd-adam (H2a): LazyAdam (dense gradients) --
CASES += [
    case("lazyadam_basic", "LazyAdam", learning_rate=0.01),
    case("lazyadam_nesterov_weight_decay", "LazyAdam", learning_rate=0.01, beta1=0.8, use_nesterov=True,
         weight_decay=0.01),
    case("lazyadam_groups_schedule", "LazyAdam", params=[{"params": "conv*", "lr": WARMUP, "weight_decay": 0},
                                                      {"params": "*", "lr": 0.02}],
         learning_rate=0.01, eps=1e-6, use_locking=True, loss_scale=4.0),
]

# -- adaptive (H2b): RMSProp, Adagrad, Adadelta, AdaMax, Rprop, AdaFactor --
CASES += [
    case("rmsprop_basic", "RMSProp", learning_rate=0.01),
    case("rmsprop_momentum_weight_decay", "RMSProp", learning_rate=0.01, momentum=0.9, epsilon=1e-6,
         weight_decay=0.01),
    case("rmsprop_centered", "RMSProp", learning_rate=0.01, centered=True, momentum=0.5, decay=0.8),
    case("rmsprop_centered_plain", "RMSProp", learning_rate=0.005, centered=True),
    case("rmsprop_groups_schedule", "RMSProp", params=[{"params": "conv*", "lr": COSINE}, {"params": "*"}],
         learning_rate=0.01, momentum=0.9, loss_scale=4.0),
    case("adagrad_basic", "Adagrad", learning_rate=0.05),
    case("adagrad_groups", "Adagrad", params=[{"params": "conv*", "weight_decay": 0.05}, {"params": "*", "lr": POLY}],
         accum=0.5, learning_rate=0.05, loss_scale=2.0),
    case("adagrad_no_update_slots", "Adagrad", learning_rate=0.05, update_slots=False),
    case("adadelta_basic", "Adadelta"),
    case("adadelta_rho_eps_weight_decay", "Adadelta", learning_rate=0.5, rho=0.8, epsilon=1e-4, weight_decay=0.01),
    case("adamax_basic", "AdaMax", learning_rate=0.01),
    case("adamax_small_beta2", "AdaMax", learning_rate=0.01, beta1=0.8, beta2=0.5, eps=1e-3),
    case("adamax_groups_schedule", "AdaMax", params=[{"params": "fc.*", "lr": WARMUP}, {"params": "*"}],
         learning_rate=0.01, weight_decay=0.01, loss_scale=8.0),
    case("rprop_basic", "Rprop", learning_rate=0.01),
    case("rprop_etas_weight_decay", "Rprop", learning_rate=0.02, etas=[0.3, 1.5], step_sizes=[1e-3, 0.03],
         weight_decay=0.01),
    case("rprop_groups_schedule", "Rprop", params=[{"params": "conv*", "lr": COSINE}, {"params": "*", "lr": 0.005}],
         learning_rate=0.01),
    case("adafactor_default", "AdaFactor"),
    case("adafactor_warmup_no_first_moment", "AdaFactor", beta1=0.0, warmup_init=True, eps=[1e-30, 1e-2]),
    case("adafactor_manual_lr_weight_decay", "AdaFactor", learning_rate=0.01, relative_step=False,
         scale_parameter=False, weight_decay=0.01, clip_threshold=0.5, decay_rate=0.5),
    case("adafactor_lr_schedule", "AdaFactor", learning_rate=COSINE, relative_step=False, beta1=0.5),
    case("adafactor_groups_ignored_decay_and_loss_scale", "AdaFactor",
         params=[{"params": "conv*", "weight_decay": 0.1}, {"params": "*"}], weight_decay=0.02, loss_scale=4.0),
]


# -- ms-only (H3): FTRL, ProximalAdagrad, Lamb, LARS --
def lars_case(name, base, base_arguments, **arguments):
    """An ``nn.LARS`` case: the wrapped optimizer's config sits under ``base_optimizer``."""
    base_config = {"format_version": 1, "optimizer": f"mindspore.nn.{base}", **base_arguments}
    return {"name": name, "config": {"format_version": 1, "optimizer": "mindspore.nn.LARS",
                                     "base_optimizer": base_config, **arguments}}


CASES += [
    case("ftrl_basic", "FTRL", learning_rate=0.1, l2=0.1),
    case("ftrl_l1_lr_power", "FTRL", learning_rate=0.05, l1=0.05, l2=0.01, lr_power=-0.3, initial_accum=0.2,
         use_locking=True),
    case("ftrl_decays_every_parameter", "FTRL", learning_rate=0.1, weight_decay=0.01),
    case("ftrl_groups_dynamic_weight_decay", "FTRL",
         params=[{"params": "conv*", "weight_decay": 0.05}, {"params": "*"}], learning_rate=0.1,
         weight_decay=EXP_WD, loss_scale=4.0),
    case("proximal_adagrad_basic", "ProximalAdagrad", learning_rate=0.1),
    case("proximal_adagrad_l1_l2", "ProximalAdagrad", learning_rate=0.1, l1=0.01, l2=0.05, weight_decay=0.01),
    case("proximal_adagrad_groups_schedule", "ProximalAdagrad",
         params=[{"params": "conv*", "lr": COSINE}, {"params": "*"}], learning_rate=0.1, accum=0.5, loss_scale=2.0),
    case("lamb_basic", "Lamb", learning_rate=0.01, weight_decay=0.01),
    case("lamb_groups", "Lamb", params=[{"params": "conv*", "weight_decay": 0.05}, {"params": "*", "lr": POLY}],
         learning_rate=0.01, beta1=0.8, eps=1e-8),
    lars_case("lars_momentum", "Momentum", dict(learning_rate=0.1, momentum=0.9, weight_decay=0.01),
              coefficient=0.02),
    lars_case("lars_clip_adam_groups", "Adam",
              dict(params=[{"params": "conv*", "lr": 0.02}, {"params": "*"}], learning_rate=0.01,
                   weight_decay=0.01, loss_scale=4.0),
              use_clip=True, coefficient=0.05, epsilon=1e-8, lars_filter={"min_ndim": 2}),
    lars_case("lars_filtered_out", "Momentum",
              dict(learning_rate=0.1, momentum=0.9, weight_decay=0.01, loss_scale=4.0),
              lars_filter={"name_contains": ["no-such-parameter"]}),
]

# -- issue 13 item 5: nn.AdamOffload (deprecated since 2.0, shipped in 2.10) and nn.Adam(use_offload=True) --
CASES += [
    case("adam_offload_basic", "AdamOffload", learning_rate=0.01),
    case("adam_offload_nesterov_weight_decay", "AdamOffload", learning_rate=0.01, use_nesterov=True,
         weight_decay=0.01, use_locking=True),
    case("adam_offload_groups_loss_scale", "AdamOffload",
         params=[{"params": "conv*", "lr": WARMUP, "grad_centralization": True},
                 {"params": "*", "weight_decay": 0.01}],
         learning_rate=0.01, beta1=0.8, beta2=0.9, eps=1e-6, loss_scale=4.0),
    # the arguments of adam_offload_nesterov_weight_decay: MindSpore gives the two the same bits
    case("adam_use_offload", "Adam", learning_rate=0.01, use_nesterov=True, weight_decay=0.01, use_locking=True,
         use_offload=True),
]


def encode(array: np.ndarray) -> str:
    """float32 array -> base64 of its little-endian bytes (row-major)."""
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def run_case(entry):
    layout = layouts.tiny
    init = streams.as_dtype(streams.initial_params(layout, SEED), "float32")
    parameters = {name: Parameter(Tensor(init[name]), name=name) for name, _ in layout}
    try:
        opt = mindspore_optimizer(entry["config"], parameters)
        order = [p.name for p in opt.parameters]
        trajectory = []
        for step in range(STEPS):
            grads = streams.as_dtype(streams.gradients(layout, step, SEED), "float32")
            opt(tuple(Tensor(grads[name]) for name in order))
            trajectory.append({name: encode(parameters[name].asnumpy()) for name, _ in layout})
    except Exception as exc:  # recorded: a golden test then checks the documented formula
        lines = [line for line in str(exc).splitlines() if line.strip() and not set(line) <= set("-")]
        reason = next((line for line in lines if "Unsupported" in line), lines[0] if lines else "")
        return {**entry, "error": f"{type(exc).__name__}: {reason.strip()[:300]}"}
    return {**entry, "trajectory": trajectory}


def main():
    mindspore.set_context(mode=mindspore.PYNATIVE_MODE, device_target="CPU")
    results = [run_case(entry) for entry in CASES]
    doc = {
        "generator": "tests/goldens/gen_mindspore_optimizers.py",
        "mindspore_version": mindspore.__version__,
        "numpy_version": np.__version__,
        "platform": f"{platform.system()} {platform.machine()}, Python {sys.version.split()[0]}",
        "layout": "tiny",
        "seed": SEED,
        "steps": STEPS,
        "encoding": "trajectory[step][name] = base64 of the float32 little-endian bytes, row-major",
        "cases": results,
    }
    OUT.write_text(json.dumps(doc, indent=1, separators=(",", ": ")) + "\n")
    for r in results:
        print(r["name"], "ERROR " + r["error"] if "error" in r else "ok")


if __name__ == "__main__":
    main()
