"""The torch and TensorFlow backends on every device the machine has: CPU always, CUDA and TF GPUs where visible.

On CPU (CI) these runs check the tests themselves; on a GPU machine the same tests run the
CUDA paths (torch's fused CUDA kernels, Triton for the compiled path, a ``capturable=True``
step captured in a CUDA graph) and TF's GPU kernels and XLA. ``tox -e gpu`` runs this file
with ``OPTBRIDGE_REQUIRE_GPU=1``, where a machine without a visible GPU fails instead of
skipping.

References: the NumPy backend on the same float32 parameters and gradients (within a few
float32 rounding errors: GPU kernels contract ``a·b + c`` and reduce in their own order),
and ``torch.optim`` on the same device for the torch-dialect specs.
"""
from __future__ import annotations

import copy
import os

import numpy as np
import pytest

import optbridge
from optbridge.dialects.keras import optimizers as keras_optimizers
from optbridge.dialects.mindspore import nn
from optbridge.dialects.torch import optim

REQUIRE_GPU = os.environ.get("OPTBRIDGE_REQUIRE_GPU", "") not in ("", "0")
SHAPES = {"fc.weight": (64, 48), "fc.bias": (64,), "head.weight": (10, 64), "scale": ()}
STEPS = 5
RTOL, ATOL = 2e-5, 2e-6

SPECS = {
    "sgd_nesterov_wd": lambda: optim.SGD(None, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
    "adam_amsgrad": lambda: optim.Adam(None, lr=1e-2, amsgrad=True),
    "adamw": lambda: optim.AdamW(None, lr=1e-2, weight_decay=0.1),
    "adafactor": lambda: optim.Adafactor(None, lr=1e-2),
    "ms_momentum_groups": lambda: nn.Momentum([{"params": "fc.*", "lr": 0.05}, {"params": "*"}], 0.1, 0.9),
    "ms_adam_warmup": lambda: nn.Adam(None, nn.WarmUpLR(0.01, 3)),
    "keras_adam": lambda: keras_optimizers.Adam(1e-2),
}
#: the torch.optim twin of each torch-dialect spec
TORCH_TWINS = {
    "sgd_nesterov_wd": ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-2}),
    "adam_amsgrad": ("Adam", {"lr": 1e-2, "amsgrad": True}),
    "adamw": ("AdamW", {"lr": 1e-2, "weight_decay": 0.1}),
}


def initial() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {n: rng.standard_normal(s).astype(np.float32) for n, s in SHAPES.items()}


def gradients(t: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(100 + t)
    return {n: rng.standard_normal(s).astype(np.float32) for n, s in SHAPES.items()}


def numpy_reference(name: str) -> dict[str, np.ndarray]:
    params = initial()
    opt = optbridge.build(SPECS[name](), params, backend="numpy")
    for t in range(STEPS):
        opt.step(gradients(t))
    return params


def assert_near(got: dict[str, np.ndarray], expected: dict[str, np.ndarray], what: str) -> None:
    assert got.keys() == expected.keys()
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=RTOL, atol=ATOL, err_msg=f"{what}: {key}")


def test_a_gpu_is_visible_when_required():
    if not REQUIRE_GPU:
        pytest.skip("OPTBRIDGE_REQUIRE_GPU is not set")
    torch = pytest.importorskip("torch")
    tf = pytest.importorskip("tensorflow")
    assert torch.cuda.is_available(), "OPTBRIDGE_REQUIRE_GPU=1 but torch sees no CUDA device"
    assert tf.config.list_logical_devices("GPU"), "OPTBRIDGE_REQUIRE_GPU=1 but TensorFlow sees no GPU"


# -- torch -------------------------------------------------------------------------------------
def torch_devices() -> list[str]:
    try:
        import torch
    except ImportError:
        return []
    return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def torch_cases() -> list:
    cases = []
    for device in torch_devices():
        paths = ["auto", "reference"] + (["compiled"] if device.startswith("cuda") else [])
        cases += [pytest.param(device, path, name, id=f"{device}-{path}-{name}")
                  for path in paths for name in sorted(SPECS)]
    return cases


def torch_run(name: str, device: str, path: str, steps: range, opt=None, tensors=None):
    import torch

    if tensors is None:
        tensors = {n: torch.nn.Parameter(torch.tensor(v, device=device)) for n, v in initial().items()}
    if opt is None:
        opt = optbridge.build(SPECS[name](), list(tensors.items()), path=path)
    for t in steps:
        for n, g in gradients(t).items():
            tensors[n].grad = torch.tensor(g, device=device)
        opt.step()
    return opt, tensors


@pytest.mark.parametrize(("device", "path", "name"), torch_cases())
def test_torch_on_the_device_equals_the_numpy_reference(device, path, name):
    opt, tensors = torch_run(name, device, path, range(STEPS))
    assert all(str(t.device) == device or (device == "cpu" and t.device.type == "cpu") for t in tensors.values())
    for entry in opt.state.values():
        for value in entry.values():
            if hasattr(value, "device") and value.dim() > 0:
                assert value.device == next(iter(tensors.values())).device
    got = {n: t.detach().cpu().numpy() for n, t in tensors.items()}
    assert_near(got, numpy_reference(name), f"torch {path} on {device}")


@pytest.mark.parametrize("device", torch_devices())
@pytest.mark.parametrize("name", sorted(TORCH_TWINS))
def test_torch_on_the_device_equals_torch_optim_there(device, name):
    import torch

    _, ours = torch_run(name, device, "auto", range(STEPS))
    cls, kwargs = TORCH_TWINS[name]
    theirs = {n: torch.nn.Parameter(torch.tensor(v, device=device)) for n, v in initial().items()}
    reference = getattr(torch.optim, cls)(theirs.values(), **kwargs)
    for t in range(STEPS):
        for n, g in gradients(t).items():
            theirs[n].grad = torch.tensor(g, device=device)
        reference.step()
    assert_near({n: t.detach().cpu().numpy() for n, t in ours.items()},
                {n: t.detach().cpu().numpy() for n, t in theirs.items()}, f"torch.optim {cls} on {device}")


@pytest.mark.parametrize("device", torch_devices())
def test_torch_state_saved_on_the_device_resumes_on_the_cpu(device):
    import torch

    opt, tensors = torch_run("adam_amsgrad", device, "auto", range(3))
    saved = copy.deepcopy(opt.state_dict())
    on_cpu = {n: torch.nn.Parameter(t.detach().cpu().clone()) for n, t in tensors.items()}
    resumed = optbridge.build(SPECS["adam_amsgrad"](), list(on_cpu.items()))
    resumed.load_state_dict(saved)
    torch_run("adam_amsgrad", device, "auto", range(3, STEPS), opt=opt, tensors=tensors)
    torch_run("adam_amsgrad", "cpu", "auto", range(3, STEPS), opt=resumed, tensors=on_cpu)
    assert_near({n: t.detach().cpu().numpy() for n, t in on_cpu.items()},
                {n: t.detach().cpu().numpy() for n, t in tensors.items()}, f"resumed from {device}")


def cuda_devices() -> list[str]:
    return [d for d in torch_devices() if d.startswith("cuda")]


@pytest.mark.parametrize("device", cuda_devices())
@pytest.mark.parametrize("name", ["sgd_nesterov_wd", "adam_amsgrad", "ms_adam_warmup", "ms_momentum_groups"])
def test_a_capturable_step_in_a_cuda_graph_equals_the_numpy_reference(device, name):
    import torch

    tensors = {n: torch.nn.Parameter(torch.tensor(v, device=device)) for n, v in initial().items()}
    opt = optbridge.build(SPECS[name](), list(tensors.items()), capturable=True)
    step = torch.compile(opt.step, fullgraph=True, mode="reduce-overhead")
    for t in range(STEPS):
        for n, g in gradients(t).items():
            if tensors[n].grad is None:
                tensors[n].grad = torch.tensor(g, device=device)
            else:
                tensors[n].grad.copy_(torch.tensor(g, device=device))  # static addresses for the graph
        step()
    assert opt.global_step == STEPS
    assert_near({n: t.detach().cpu().numpy() for n, t in tensors.items()}, numpy_reference(name),
                f"capturable CUDA graph on {device}")


# -- TensorFlow --------------------------------------------------------------------------------
def tf_devices() -> list[str]:
    if os.environ.get("OPTBRIDGE_SKIP_TF_DEVICES"):
        return []
    try:
        import tensorflow as tf
    except ImportError:
        return []
    return ["/CPU:0"] + [d.name for d in tf.config.list_logical_devices("GPU")]


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "tf.function"])
@pytest.mark.parametrize("device", tf_devices())
@pytest.mark.parametrize("name", sorted(SPECS))
def test_tensorflow_tape_loop_on_the_device_equals_the_numpy_reference(name, device, graph):
    import tensorflow as tf

    with tf.device(device):
        variables = {n: tf.Variable(v, name=n.replace(".", "_")) for n, v in initial().items()}
        opt = optbridge.build(SPECS[name](), list(variables.items()))

        def step(grads):
            opt.step(grads)

        run = tf.function(step) if graph else step
        for t in range(STEPS):
            run({n: tf.constant(g) for n, g in gradients(t).items()})
    kind = "GPU" if "GPU" in device.upper() else "CPU"
    assert all(kind in v.device.upper() for v in variables.values())
    assert_near({n: v.numpy() for n, v in variables.items()}, numpy_reference(name), f"tensorflow on {device}")


@pytest.mark.parametrize("device", tf_devices())
def test_keras_fit_with_xla_on_the_device_equals_fit_without(device):
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(6)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = np.sin(x.sum(axis=1, keepdims=True))

    def fit(jit_compile):
        with tf.device(device):
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"),
                                      keras.layers.Dense(1)])
            model.set_weights([np.random.default_rng(5).standard_normal(w.shape).astype(np.float32) * 0.5
                               for w in model.get_weights()])
            model.compile(optimizer=optbridge.keras(nn.Adam(None, nn.WarmUpLR(0.05, 6))), loss="mse",
                          jit_compile=jit_compile)
            model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
        return model

    xla, plain = fit(True), fit(False)
    for a, b in zip(xla.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    assert xla.optimizer.optbridge.global_step == plain.optimizer.optbridge.global_step == 12
