"""The reference guide's grouped Momentum, with selectors, on the NumPy backend.

MindSpore's "Learning Rate and Optimizer" guide groups the parameters of a small
convolutional network by walking its cells:

* Conv2d weights: weight decay 1e-4, a cosine learning rate from ``nn.cosine_decay_lr``;
* BatchNorm2d ``gamma`` and ``beta``: no weight decay, learning rate 1e-4;
* the Dense weight: weight decay 1e-5, learning rate 1e-3;
* everything else with the optimizer's defaults, and ``order_params`` with every
  trainable parameter.

With optbridge the groups are selectors over parameter names (the ``guide`` layout of
``optbridge.conformance.layouts`` has the guide network's MindSpore names), so the whole
configuration is plain data. The script trains a few steps on deterministic gradients
and prints, per step, the learning rate of each group (as MindSpore holds it: float32,
with static rates passed through MindSpore's ``lr + 1 − 1`` rounding because one rate is
dynamic) and the norm of each group's parameters.

Run: ``python examples/mindspore_guide_groups.py [--steps N] [--step-per-epoch N]``
"""
from __future__ import annotations

import argparse

import numpy as np

import optbridge
from optbridge.conformance import layouts, streams
from optbridge.dialects.mindspore import nn


def make_spec(total_step: int, step_per_epoch: int) -> nn.Momentum:
    """The guide's ``group_param`` list, written with selectors."""
    conv_weight_lr = nn.cosine_decay_lr(0.0, 1e-3, total_step=total_step, step_per_epoch=step_per_epoch,
                                        decay_epoch=10)
    group_param = [
        {"order_params": "*"},                                                   # the network's order
        {"params": {"ndim": 4}, "weight_decay": 1e-4, "lr": conv_weight_lr},     # Conv2d weights
        {"params": {"name_contains": ["gamma", "beta"]}, "weight_decay": 0.0, "lr": 1e-4},  # BatchNorm2d
        {"params": "fc.weight", "weight_decay": 1e-5, "lr": 1e-3},               # the Dense weight
        {"params": "*"},                                                         # the rest: fc.bias
    ]
    return nn.Momentum(group_param, learning_rate=1e-3, weight_decay=0.0, momentum=0.9)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6, help="optimizer steps to run (default 6)")
    parser.add_argument("--step-per-epoch", type=int, default=2,
                        help="steps per epoch of the cosine schedule (default 2; the guide uses 100)")
    args = parser.parse_args(argv)

    layout = layouts.guide
    spec = make_spec(total_step=max(args.steps, 1), step_per_epoch=args.step_per_epoch)
    params = streams.as_dtype(streams.initial_params(layout, seed=0), "float32")
    opt = optbridge.build(spec, params)

    groups = opt.state_dict()["groups"]
    labels = ["conv", "bn", "dense", "other"]
    print("groups:")
    for label, group in zip(labels, groups):
        print(f"  {label:6s} groups[{group['index']}]: {', '.join(group['params'])}")
    print(f"parameter order: {', '.join(opt.param_names)}")
    print()
    print("step " + "".join(f"{'lr ' + label:>16s}" for label in labels)
          + "".join(f"{'|' + label + '|':>10s}" for label in labels))
    for step in range(args.steps):
        lrs = opt.get_lr()
        opt.step(streams.as_dtype(streams.gradients(layout, step, seed=0), "float32"))
        norms = [np.sqrt(sum(float(np.sum(params[n].astype(np.float64) ** 2)) for n in g["params"]))
                 for g in groups]
        print(f"{step:4d} " + "".join(f"{lr:16.9g}" for lr in lrs) + "".join(f"{x:10.5f}" for x in norms))
    print()
    print(f"global_step = {opt.global_step}")
    print(f"config: {optbridge.to_dict(spec)['params'][1]['params']} has its own cosine lr list "
          f"of {len(spec.arguments['params'][1]['lr'])} entries")


if __name__ == "__main__":
    main()
