"""Generate golden float32 trajectories of MindSpore 2.10's loss-scale managers in training.

Run inside an environment with ``mindspore==2.10.0``, ``numpy<2`` and optbridge installed
(``tox -e goldens``). Each case is a loss-scale manager (``mindspore.amp.FixedLossScaleManager``
or ``DynamicLossScaleManager``) and a MindSpore-dialect optimizer config (built in MindSpore by
``optbridge.conformance.against.mindspore_optimizer``), trained the way
``mindspore.train.amp.build_train_network`` wires them and ``Model``'s non-sink loop drives them:

* a manager with an update cell (``DynamicLossScaleManager``, ``FixedLossScaleManager`` with
  ``drop_overflow_update=True``): ``nn.TrainOneStepWithLossScaleCell(network, optimizer,
  scale_sense=manager.get_update_cell())`` (train/amp.py:781), then, as ``Model`` does after
  every step (train/model.py:1267-1270), ``manager.update_loss_scale(overflow)`` on the
  Python object;
* ``FixedLossScaleManager(drop_overflow_update=False)``: ``build_train_network`` itself, which
  gives ``nn.TrainOneStepCell(network, optimizer, sens=loss_scale)`` (train/amp.py:789); the
  optimizer's own ``loss_scale`` divides the gradients.

On CPU ``build_train_network`` refuses an update cell (train/amp.py:770) and
``TrainOneStepWithLossScaleCell.get_overflow_status`` reaches ``NPUGetFloatStatusV2`` (the
Ascend 910A branch; the GPU branch's ``FloatStatus`` has no CPU kernel either). The cell here
takes MindSpore's own Ascend 910B "INFNAN" branch instead (``ascend_910b_target = True``,
``enable_allfinite = False``: ``_ascend_grad_overflow``, ``1 - all(IsFinite(g))`` per gradient,
summed, overflow when the sum is >= 1, nn/wrap/loss_scale.py:70-76, 484-502), which flags the
same steps as the GPU's ``FloatStatus``: a step overflows when any unscaled gradient element is
inf or NaN. Everything else (unscaling, the update cell, skipping the optimizer) is MindSpore's.

The network's loss is ``sum_p sum(p * c_p)``, so the gradient of the scaled loss is
``float32(S) * c_p`` (one correctly rounded product; the generator checks MindSpore's gradient
against NumPy's product bit for bit at every step) and ``c_p`` is the deterministic stream
``optbridge.conformance.streams.gradients(tiny, step, seed)`` with the case's ``injections``
written into it (``inf``, ``nan``, or a finite value such as ``2e38`` that overflows only once
multiplied by the scale).

Per step: ``loss_scale`` (used by the step), ``loss_scale_after`` (the cell's ``scale_sense``
after it), ``overflow`` (the cell's flag; ``None`` where nothing checks), ``optimizer_ran``
(the optimizer's ``global_step`` advanced), ``manager_loss_scale`` (the Python manager's
``get_loss_scale()`` after ``Model``'s ``update_loss_scale``), the update cell's
``cur_iter`` / ``last_overflow_iter``, every parameter, and every optimizer state Parameter
(moments, ``beta1_power``, ``global_step``, ...) under MindSpore's own name.

Also recorded: the managers' signatures, and MindSpore's exception (type, first line) or
getters for every input of ``loss_scale_records.CONSTRUCTION_RECORDS``.

Output: ``tests/goldens/mindspore_loss_scale.json``.
"""
from __future__ import annotations

import base64
import inspect
import json
import platform
import sys
from pathlib import Path

import numpy as np

import mindspore
from mindspore import Parameter, Tensor, amp, nn, ops
from mindspore.train.amp import build_train_network

from optbridge.conformance import layouts, streams
from optbridge.conformance.against import mindspore_optimizer

sys.path.insert(0, str(Path(__file__).parent))
from loss_scale_records import CONSTRUCTION_RECORDS, call  # noqa: E402

OUT = Path(__file__).with_name("mindspore_loss_scale.json")
SEED = 11
LAYOUT = layouts.tiny

POLY = {"schedule": "mindspore.nn.PolynomialDecayLR", "learning_rate": 0.1, "end_learning_rate": 0.01,
        "decay_steps": 6, "power": 1.0}


def optimizer(name, **arguments):
    return {"format_version": 1, "optimizer": f"mindspore.nn.{name}", **arguments}


def optimizers(loss_scale=None):
    """Momentum and Adam, ungrouped and grouped, and AdamWeightDecay (decoupled decay, no
    ``loss_scale`` argument); ``loss_scale`` is the optimizer's own argument where it has one."""
    own = {} if loss_scale is None else {"loss_scale": loss_scale}
    groups = [{"params": "conv*", "weight_decay": 0.02, "lr": 0.05}, {"params": "*"}]
    return {
        "momentum": optimizer("Momentum", learning_rate=0.1, momentum=0.9, weight_decay=0.01, **own),
        "momentum_groups_schedule": optimizer("Momentum", params=groups, learning_rate=POLY, momentum=0.9, **own),
        "adam": optimizer("Adam", learning_rate=0.01, weight_decay=0.01, **own),
        "adam_groups": optimizer("Adam", params=[{"params": "conv*", "weight_decay": 0.02, "lr": POLY},
                                                 {"params": "*"}], learning_rate=0.01, **own),
        "adam_weight_decay": optimizer("AdamWeightDecay", learning_rate=0.01, weight_decay=0.01),
    }


def inject(step, name, index, value):
    """Write ``value`` (a float, or "inf" / "-inf" / "nan") at flat ``index`` of ``name``'s gradient."""
    return {"step": step, "param": name, "index": index, "value": value}


# DynamicLossScaleManager() defaults: 2**24 only backs off in a few steps; 2e38 overflows only
# once scaled (2e38 * 2**24 = inf in float32).
DEFAULT_INJECTIONS = [inject(1, "fc.weight", 5, "inf"), inject(4, "conv2.weight", 7, 2e38),
                      inject(5, "bn1.gamma", 0, "nan")]
# (16, 2, 3): growth at the 3rd good step (cur_iter 3, 7), backoff, the floor of 1 reached and
# held (cur_iter 12, 13), an overflow on a step where the window is full (cur_iter 16), growth after.
SMALL_INJECTIONS = [inject(3, "fc.weight", 0, "inf"), inject(7, "conv1.weight", 3, 2e38),
                    inject(8, "fc.bias", 1, "nan")]
SMALL_INJECTIONS += [inject(s, "conv2.weight", s, "-inf") for s in (9, 10, 11, 12)]
SMALL_INJECTIONS += [inject(15, "bn1.beta", 2, "inf")]
# (1000, 3, 2): a scale that is no power of two (unscaling rounds) and a factor whose
# reciprocal rounds (1/3 in float32).
FACTOR3_INJECTIONS = [inject(2, "fc.weight", 1, "inf"), inject(5, "conv1.weight", 0, "nan"),
                      inject(6, "fc.bias", 0, "inf")]
FIXED_INJECTIONS = [inject(2, "fc.weight", 4, "inf"), inject(4, "bn1.beta", 1, "nan"),
                    inject(5, "conv2.weight", 3, 2e38)]
# drop_overflow_update=False: nothing checks; the last step's gradient overflows when scaled
# and reaches the optimizer.
NO_DROP_INJECTIONS = [inject(7, "fc.weight", 2, 2e38)]


def case(name, manager, arguments, config, steps, injections):
    return {"name": name, "manager": {"class": manager, "arguments": arguments}, "optimizer": config,
            "steps": steps, "injections": injections}


CASES = []
for key, config in optimizers().items():
    if key in ("momentum", "adam", "adam_weight_decay"):
        CASES.append(case(f"dynamic_default_{key}", "DynamicLossScaleManager", {}, config, 8, DEFAULT_INJECTIONS))
for key, config in optimizers().items():
    CASES.append(case(f"dynamic_small_window_{key}", "DynamicLossScaleManager",
                      {"init_loss_scale": 16, "scale_factor": 2, "scale_window": 3}, config, 20, SMALL_INJECTIONS))
CASES.append(case("dynamic_factor3_momentum", "DynamicLossScaleManager",
                  {"init_loss_scale": 1000.0, "scale_factor": 3, "scale_window": 2},
                  optimizers()["momentum"], 10, FACTOR3_INJECTIONS))
for key, config in optimizers().items():
    CASES.append(case(f"fixed_drop_{key}", "FixedLossScaleManager", {}, config, 8, FIXED_INJECTIONS))
CASES.append(case("fixed_drop_scale100_momentum", "FixedLossScaleManager",
                  {"loss_scale": 100.0, "drop_overflow_update": True}, optimizers()["momentum"], 8, FIXED_INJECTIONS))
for key, config in optimizers(loss_scale=128.0).items():
    CASES.append(case(f"fixed_no_drop_{key}", "FixedLossScaleManager",
                      {"loss_scale": 128.0, "drop_overflow_update": False}, config, 8,
                      NO_DROP_INJECTIONS if key == "momentum" else []))


def encode(array: np.ndarray) -> str:
    """float32 array -> base64 of its little-endian bytes (row-major)."""
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def gradient_stream(step, injections):
    """The unscaled gradients ``c`` of ``step``: the conformance stream with its injections."""
    grads = streams.as_dtype(streams.gradients(LAYOUT, step, SEED), "float32")
    for entry in injections:
        if entry["step"] == step:
            flat = grads[entry["param"]].reshape(-1)
            flat[entry["index"]] = np.float32(float(entry["value"]))
    return grads


class StreamLoss(nn.Cell):
    """``sum_p sum(p * c_p)``: the gradient with respect to ``p`` is the sensitivity times ``c_p``."""

    def __init__(self, parameters):
        super().__init__()
        self.names = list(parameters)
        self.weights = mindspore.ParameterTuple(list(parameters.values()))
        self.constants = mindspore.ParameterTuple(
            [Parameter(Tensor(np.zeros(p.shape, np.float32)), name=f"c.{n}", requires_grad=False)
             for n, p in parameters.items()])

    def set_gradients(self, grads):
        for name, constant in zip(self.names, self.constants):
            constant.set_data(Tensor(grads[name]))

    def construct(self):
        total = ops.zeros((), mindspore.float32)
        for weight, constant in zip(self.weights, self.constants):
            total = total + (weight * constant).sum()
        return total


def optimizer_state(opt, model_names):
    """Every Parameter of the optimizer that is not a model parameter, by MindSpore's name."""
    state = {}
    for name, param in opt.parameters_and_names():
        if name in model_names:
            continue
        value = param.asnumpy()
        state[name] = value.reshape(-1).tolist() if value.dtype.kind in "iu" else encode(value)
    return state


def run_case(entry):
    init = streams.as_dtype(streams.initial_params(LAYOUT, SEED), "float32")
    parameters = {name: Parameter(Tensor(init[name]), name=name) for name, _ in LAYOUT}
    network = StreamLoss(parameters)
    assert [p.name for p in network.weights] == [n for n, _ in LAYOUT]
    opt = mindspore_optimizer(entry["optimizer"], parameters)
    manager = getattr(amp, entry["manager"]["class"])(**entry["manager"]["arguments"])
    update_cell = manager.get_update_cell()
    if update_cell is None:
        train = build_train_network(network, opt, level="O0", loss_scale_manager=manager)
        assert type(train) is nn.TrainOneStepCell
    else:
        train = nn.TrainOneStepWithLossScaleCell(network, opt, scale_sense=update_cell).set_train()
        train.ascend_910b_target, train.enable_allfinite = True, False
    grad_of_scaled = ops.GradOperation(get_by_list=True, sens_param=True)
    trajectory = []
    for step in range(entry["steps"]):
        grads = gradient_stream(step, entry["injections"])
        network.set_gradients(grads)
        scale = float(train.scale_sense.asnumpy()) if update_cell is not None else float(manager.get_loss_scale())
        sens = Tensor(np.float32(scale))
        with np.errstate(over="ignore"):  # 2e38 times the scale is inf on purpose
            expected = {n: np.float32(scale) * grads[n] for n in network.names}
        observed = grad_of_scaled(network, network.weights)(sens)
        for name, got in zip(network.names, observed):
            assert got.asnumpy().tobytes() == expected[name].tobytes(), (entry["name"], step, name)
        before = int(opt.global_step.asnumpy()[0])
        outputs = train()
        record = {"step": step, "loss_scale": scale}
        if update_cell is not None:
            overflow = bool(np.all(outputs[1].asnumpy()))
            manager.update_loss_scale(overflow)  # Model's non-sink loop, train/model.py:1267-1270
            record.update(overflow=overflow, loss_scale_after=float(train.scale_sense.asnumpy()))
            if isinstance(update_cell, nn.DynamicLossScaleUpdateCell):
                record.update(cur_iter=int(update_cell.cur_iter.asnumpy()),
                              last_overflow_iter=int(update_cell.last_overflow_iter.asnumpy()))
        else:
            record.update(overflow=None, loss_scale_after=scale)
        record["manager_loss_scale"] = float(manager.get_loss_scale())
        record["optimizer_ran"] = int(opt.global_step.asnumpy()[0]) == before + 1
        record["params"] = {name: encode(parameters[name].asnumpy()) for name, _ in LAYOUT}
        record["state"] = optimizer_state(opt, set(parameters))
        trajectory.append(record)
    return {**entry, "trajectory": trajectory}


def construction():
    """MindSpore's signatures, and what it does with each input of ``CONSTRUCTION_RECORDS``."""
    signatures = {}
    for name in ("FixedLossScaleManager", "DynamicLossScaleManager"):
        parameters = inspect.signature(getattr(amp, name)).parameters.values()
        signatures[name] = [[p.name, p.default] for p in parameters]
    records = {}
    for record_id, name, kwargs in CONSTRUCTION_RECORDS:
        try:
            manager = call(getattr(amp, name), kwargs)
        except Exception as exc:
            records[record_id] = {"type": type(exc).__name__, "message": str(exc).splitlines()[0]}
            continue
        records[record_id] = {"type": None, "message": None, "get_loss_scale": repr(manager.get_loss_scale()),
                              "get_drop_overflow_update": repr(manager.get_drop_overflow_update())}
    return signatures, records


def main():
    mindspore.set_context(mode=mindspore.PYNATIVE_MODE, device_target="CPU")
    signatures, records = construction()
    results = [run_case(entry) for entry in CASES]
    doc = {
        "generator": "tests/goldens/gen_mindspore_loss_scale.py",
        "mindspore_version": mindspore.__version__,
        "numpy_version": np.__version__,
        "platform": f"{platform.system()} {platform.machine()}, Python {sys.version.split()[0]}",
        "layout": "tiny",
        "seed": SEED,
        "encoding": "params[name] / state[name] = base64 of the float32 little-endian bytes, row-major; "
                    "integer state as a list",
        "gradients": "the gradient of the scaled loss at a step is float32(loss_scale) * c, c = "
                     "streams.gradients(tiny, step, seed) in float32 with the case's injections",
        "overflow_check": "TrainOneStepWithLossScaleCell's Ascend 910B INFNAN branch (IsFinite), on CPU",
        "signatures": signatures,
        "construction": records,
        "cases": results,
    }
    OUT.write_text(json.dumps(doc, indent=1, separators=(",", ": ")) + "\n")
    for r in results:
        steps = r["trajectory"]
        print(r["name"], "scales", [s["loss_scale"] for s in steps], "skipped",
              [s["step"] for s in steps if not s["optimizer_ran"]])


if __name__ == "__main__":
    main()
