"""The MindSpore backend in MindSpore's own training loops, against the NumPy reference.

Every loop records the gradients MindSpore computed; the same spec then runs on the
NumPy backend from the same initial values with those gradients, and the MindSpore
parameters must equal the NumPy ones bit for bit after every step.
"""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Parameter, Tensor, nn

import optbridge
from optbridge.dialects.keras import optimizers
from optbridge.dialects.mindspore import nn as ms_nn
from optbridge.dialects.torch import optim
from optbridge.errors import BackendError, SpecTypeError, StepInputError
from optbridge_mindspore import MindSporeOptimizer, OptimizerCell

RNG = np.random.default_rng(0)
X = Tensor(RNG.standard_normal((6, 4)).astype(np.float32))
Y = Tensor(RNG.standard_normal((6, 2)).astype(np.float32))
SPECS = {
    "mindspore.Momentum": lambda: ms_nn.Momentum(None, learning_rate=0.1, momentum=0.9, weight_decay=0.01),
    "mindspore.Adam-groups": lambda: ms_nn.Adam([{"params": "*.bias", "lr": 0.05}, {"params": "*"}],
                                                learning_rate=0.01, weight_decay=0.01),
    "torch.AdamW": lambda: optim.AdamW(None, lr=1e-2, weight_decay=0.1),
    "keras.Adam": lambda: optimizers.Adam(learning_rate=1e-2, weight_decay=0.05, amsgrad=True),
}


def network(dtype=ms.float32):
    ms.set_seed(1)
    net = nn.SequentialCell([nn.Dense(4, 8), nn.ReLU(), nn.Dense(8, 2)])
    return net.to_float(dtype) if dtype != ms.float32 else net


def initial(net):
    return {p.name: p.asnumpy().copy() for p in net.trainable_params()}


def reference(spec, start, recorded):
    """The NumPy backend's parameters after each recorded gradient step."""
    params = {k: v.copy() for k, v in start.items()}
    opt = optbridge.build(spec, params, backend="numpy")
    after = []
    for grads in recorded:
        opt.step(grads)
        after.append({k: v.copy() for k, v in params.items()})
    return after


def assert_bitwise(net, expected):
    for p in net.trainable_params():
        np.testing.assert_array_equal(p.asnumpy(), expected[p.name], err_msg=p.name, strict=True)


@pytest.mark.parametrize("dialect", sorted(SPECS))
@pytest.mark.parametrize("params_form", ["trainable_params", "parameters_and_names", "dict"])
def test_value_and_grad_loop_equals_the_numpy_reference(dialect, params_form):
    net = network()
    start = initial(net)
    params = {"trainable_params": net.trainable_params, "parameters_and_names": net.parameters_and_names,
              "dict": lambda: {p.name: p for p in net.trainable_params()}}[params_form]()
    opt = optbridge.build(SPECS[dialect](), params)
    assert isinstance(opt, MindSporeOptimizer)
    assert sorted(opt.param_names) == sorted(start)
    assert [p.name for p in opt.parameters] == list(opt.param_names)
    loss_fn = nn.MSELoss()
    grad_fn = ms.value_and_grad(lambda x, y: loss_fn(net(x), y), None, opt.parameters)
    recorded = []
    for step in range(4):
        _, grads = grad_fn(X, Y)
        recorded.append({n: g.asnumpy().copy() for n, g in zip(opt.param_names, grads)})
        if step % 2:
            opt.step(dict(zip(opt.param_names, grads)))
        else:
            assert bool(opt(grads))
    assert_bitwise(net, reference(SPECS[dialect](), start, recorded)[-1])
    assert opt.global_step == 4


def test_float64_parameters_train_bitwise_like_numpy():
    params = {"w": Parameter(Tensor(RNG.standard_normal((3, 5))), name="w"),
              "b": Parameter(Tensor(np.zeros(5)), name="b")}
    assert params["w"].dtype == ms.float64
    start = {k: v.asnumpy().copy() for k, v in params.items()}
    opt = optbridge.build(ms_nn.Adam(None, learning_rate=0.01, use_amsgrad=True), params)
    recorded = [{k: RNG.standard_normal(v.shape) for k, v in start.items()} for _ in range(3)]
    for grads in recorded:
        opt({k: Tensor(g) for k, g in grads.items()})
    expected = reference(ms_nn.Adam(None, learning_rate=0.01, use_amsgrad=True), start, recorded)[-1]
    for k, p in params.items():
        np.testing.assert_array_equal(p.asnumpy(), expected[k], strict=True)


def train_one_step_cell(net, optimizer):
    cell = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), optimizer)
    cell.set_train()
    return cell


@pytest.mark.parametrize("adapter", ["optimizer", "cell"])
def test_train_one_step_cell_takes_the_optimizer_or_its_cell(adapter):
    net = network()
    start = initial(net)
    opt = optbridge.build(SPECS["torch.AdamW"](), net.trainable_params())
    cell = train_one_step_cell(net, opt if adapter == "optimizer" else opt.cell())
    grad_fn = ms.grad(nn.WithLossCell(net, nn.MSELoss()), None, opt.parameters)   # what the cell computes
    recorded = []
    for _ in range(3):
        recorded.append({n: g.asnumpy().copy() for n, g in zip(opt.param_names, grad_fn(X, Y))})
        cell(X, Y)
    assert opt.global_step == 3
    assert_bitwise(net, reference(SPECS["torch.AdamW"](), start, recorded)[-1])


def test_model_fit_runs_through_the_nn_optimizer_adapter():
    net = network()
    opt = optbridge.build(ms_nn.Momentum(None, learning_rate=0.1, momentum=0.9), net.trainable_params())
    cell = opt.cell()
    assert isinstance(cell, nn.Optimizer) and isinstance(cell, OptimizerCell) and cell.optbridge is opt
    before = initial(net)
    import mindspore.dataset as ds

    data = ds.NumpySlicesDataset({"x": X.asnumpy(), "y": Y.asnumpy()}, shuffle=False).batch(3)
    ms.Model(net, nn.MSELoss(), optimizer=cell).train(2, data, dataset_sink_mode=False)
    assert opt.global_step == 4
    assert all(not np.array_equal(p.asnumpy(), before[p.name]) for p in net.trainable_params())
    with pytest.raises(TypeError, match="optimizer"):     # MindSpore's own check: Model wants nn.Optimizer
        ms.Model(net, nn.MSELoss(), optimizer=opt)


def test_graph_mode_python_loop_runs_and_compiled_use_is_refused_naming_the_mode(graph_mode):
    net = network()
    start = initial(net)
    opt = optbridge.build(SPECS["mindspore.Momentum"](), net.trainable_params())
    grad_fn = ms.value_and_grad(nn.WithLossCell(net, nn.MSELoss()), None, opt.parameters)  # compiled
    _, grads = grad_fn(X, Y)
    opt(grads)
    assert_bitwise(net, reference(SPECS["mindspore.Momentum"](), start,
                                  [{n: g.asnumpy() for n, g in zip(opt.param_names, grads)}])[0])
    for optimizer in (opt, opt.cell()):
        with pytest.raises(BackendError, match="GRAPH_MODE") as info:
            train_one_step_cell(net, optimizer)(X, Y)
        assert isinstance(info.value, RuntimeError)
    assert opt.global_step == 1


def test_bad_input_raises_before_anything_changes():
    net = network()
    opt = optbridge.build(SPECS["torch.AdamW"](), net.trainable_params())
    good = tuple(Tensor(np.ones(p.shape, np.float32)) for p in opt.parameters)
    opt(good)
    state, before = opt.state_dict(), initial(net)
    bad_inputs = [good[:-1], dict(zip(opt.param_names[1:], good[1:])),
                  (Tensor(np.ones((2, 2), np.float32)),) + good[1:],
                  (good[0].astype(ms.float64),) + good[1:], (good[0].asnumpy(),) + good[1:], 3.0]
    for bad in bad_inputs:
        with pytest.raises(StepInputError) as info:
            opt(bad)
        assert isinstance(info.value, ValueError)
    assert opt.global_step == 1
    for name, value in initial(net).items():
        np.testing.assert_array_equal(value, before[name])
    for k, v in opt.state_dict()["state"].items():
        for slot, value in v.items():
            np.testing.assert_array_equal(value, state["state"][k][slot])


@pytest.mark.parametrize("params", [
    {"w": Parameter(Tensor(np.ones(3, np.int32)), name="w")},
    {"w": Parameter(Tensor(np.ones(3, np.float16)), name="w")},
    {"w": np.ones(3, np.float32)},
])
def test_parameters_it_cannot_train_are_refused_by_name(params):
    with pytest.raises(SpecTypeError, match="cannot train parameter 'w'") as info:
        MindSporeOptimizer(ms_nn.SGD(None, 0.1).to_canonical(), params)
    assert isinstance(info.value, TypeError)


def test_a_kernel_another_plugin_adds_runs_as_the_fast_path():
    """``optbridge_kernels("mindspore")`` reaches the optimizer; the kernel gets pre-processed
    gradients and MindSpore scalars, and (here the shared rule itself) gives the rule's bits."""
    from optbridge import plugin
    from optbridge.algorithms import algorithm_registry
    from optbridge_mindspore import ops

    calls = []

    def sgd_kernel(algorithm, params, grads, slots, scalars):
        calls.append(len(params))
        assert all(isinstance(v, Tensor) for v in scalars.values() if not isinstance(v, bool))
        algorithm.update(ops, params, grads, slots, scalars)

    class AddsAKernel:
        @plugin.hookimpl
        def optbridge_kernels(self, backend):
            return {"sgd": sgd_kernel} if backend == "mindspore" else {}

    assert "sgd" in algorithm_registry
    plugin.reset()
    plugin.get_plugin_manager().register(AddsAKernel(), name="adds-a-kernel")
    try:
        spec = ms_nn.SGD(None, learning_rate=0.1, momentum=0.9, weight_decay=0.01)
        net = network()
        start = initial(net)
        opt = optbridge.build(spec, net.trainable_params())
        recorded = [{p.name: RNG.standard_normal(p.shape).astype(np.float32) for p in net.trainable_params()}
                    for _ in range(3)]
        for grads in recorded:
            opt({n: Tensor(g) for n, g in grads.items()})
    finally:
        plugin.reset()
    assert calls == [4, 4, 4]
    assert_bitwise(net, reference(ms_nn.SGD(None, learning_rate=0.1, momentum=0.9, weight_decay=0.01),
                                  start, recorded)[-1])
