"""Role selectors (``{"role": "norm"}``): from torch module and Keras layer types, and the
name/rank fallback for plain mappings (DESIGN.md section 2a, optbridge.roles)."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

import optbridge
from optbridge.base_optimizer import BaseOptimizer
from optbridge.conformance import layouts, streams
from optbridge.dialects.mindspore import nn
from optbridge.dialects.torch import optim
from optbridge.errors import GroupError, SelectorTypeError
from optbridge.groups import ParamInfo, resolve_groups, select
from optbridge.roles import fallback_roles

CONV_LR = nn.cosine_decay_lr(0.0, 1e-3, total_step=1000, step_per_epoch=100, decay_epoch=10)


def guide_groups(conv_lr=CONV_LR):
    """The reference guide's conv / bn / dense grouping, written once with roles."""
    return [
        {"order_params": "*"},
        {"params": {"role": "weight", "ndim": 4}, "weight_decay": 1e-4, "lr": conv_lr},
        {"params": {"role": "norm"}, "weight_decay": 0.0, "lr": 1e-4},
        {"params": {"role": "weight", "ndim": 2}, "weight_decay": 1e-5, "lr": 1e-3},
        {"params": "*"},
    ]


def guide_spec(groups=None):
    return nn.Momentum(guide_groups() if groups is None else groups, learning_rate=1e-3, weight_decay=0.0,
                       momentum=0.9)


def resolved(opt):
    return [g.names for g in opt.engine.resolution.groups]


# -- the selector and the fallback ----------------------------------------------------------
def test_fallback_roles_of_the_builtin_layouts_and_keras_paths():
    infos = [ParamInfo(n, s) for n, s in layouts.guide]
    assert fallback_roles(infos) == {
        "layer1.0.weight": "weight", "layer1.1.gamma": "norm", "layer1.1.beta": "norm",
        "layer2.0.weight": "weight", "layer2.1.gamma": "norm", "layer2.1.beta": "norm",
        "fc.weight": "weight", "fc.bias": "bias"}
    resnet = fallback_roles([ParamInfo(n, s) for n, s in layouts.resnet50])
    assert resnet["layer1.0.downsample.1.bias"] == "norm"      # rule 3: beside a rank-1 weight
    assert resnet["layer1.0.downsample.0.weight"] == "weight" and resnet["fc.bias"] == "bias"
    assert sum(r == "norm" for r in resnet.values()) == 106
    keras_like = [("m/embedding/embeddings", (10, 4)), ("m/conv2d/kernel", (3, 3, 1, 4)), ("m/conv2d/bias", (4,)),
                  ("m/batch_normalization/gamma", (4,)), ("m/batch_normalization/beta", (4,)),
                  ("h.0.ln_1.bias", (4,)), ("tok_embed.weight", (10, 4)), ("encoder.norm.bias", (4,)),
                  ("attn.in_proj_bias", (12,)), ("step", ())]
    assert fallback_roles([ParamInfo(n, s) for n, s in keras_like]) == {
        "m/embedding/embeddings": "embedding", "m/conv2d/kernel": "weight", "m/conv2d/bias": "bias",
        "m/batch_normalization/gamma": "norm", "m/batch_normalization/beta": "norm", "h.0.ln_1.bias": "norm",
        "tok_embed.weight": "embedding", "encoder.norm.bias": "norm", "attn.in_proj_bias": "bias", "step": "weight"}


def test_given_roles_win_over_the_fallback_and_combine_with_other_keys():
    infos = [ParamInfo("a", (3,), "bias"), ParamInfo("b.gamma", (3,)), ParamInfo("c", (3, 3), "embedding")]
    assert select({"role": "bias"}, infos) == ["a"]
    assert select({"role": ["norm", "embedding"]}, infos) == ["b.gamma", "c"]
    assert select({"role": "embedding", "max_ndim": 1}, infos) == []


@pytest.mark.parametrize("selector, message", [
    ({"role": "bn"}, "groups[0] ({'role': 'bn'}): 'role' must be one of ['bias', 'norm', 'embedding', 'weight']"),
    ({"role": []}, "groups[0] ({'role': []}): 'role' must be one of"),
    ({"role": 3}, "groups[0] ({'role': 3}): 'role' must be one of"),
    ({"roles": "bias"}, "a selector dict takes the keys ['regex', 'name_contains', 'ndim', 'min_ndim', "
                        "'max_ndim', 'role', 'exclude_names'], got ['roles']"),
])
def test_bad_role_selectors_name_the_group(selector, message):
    with pytest.raises(GroupError) as info:
        nn.SGD([{"params": selector}, {"params": "*"}], learning_rate=0.1)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_a_role_that_matches_nothing_is_an_empty_group_and_nothing_changes():
    params = {n: np.ones(s, np.float32) for n, s in layouts.lenet5}
    before = {n: a.copy() for n, a in params.items()}
    with pytest.raises(GroupError, match=r"groups\[0\] \(\{'role': 'norm'\}\): the selector matches no parameter"):
        optbridge.build(nn.SGD([{"params": {"role": "norm"}}, {"params": "*"}], learning_rate=0.1), params)
    assert all(np.array_equal(params[n], before[n]) for n in params)


def test_a_backend_role_outside_the_vocabulary_is_refused():
    with pytest.raises(GroupError, match="parameter 'w' has the role 'kernel'; a role is one of"):
        resolve_groups(None, [ParamInfo("w", (2,), "kernel")])


def test_role_selectors_round_trip_through_configs(tmp_path):
    spec = optim.AdamW([{"params": {"role": ["bias", "norm"]}, "weight_decay": 0.0}, {"params": "*"}], lr=1e-3)
    writers = {".json": "json", ".toml": "tomli_w", ".yaml": "yaml"}
    for suffix in [s for s, module in writers.items() if importlib.util.find_spec(module) is not None]:
        path = tmp_path / f"spec{suffix}"
        optbridge.save(spec, path)
        again = optbridge.load(path)
        assert again.to_canonical() == spec.to_canonical()
    assert json.loads(json.dumps(optbridge.to_dict(spec)))["params"][0]["params"] == {"role": ["bias", "norm"]}


def test_a_plugin_backend_gives_roles_through_param_roles():
    from optbridge.backends.numpy.optimizer import NumpyOptimizer

    class Tagged(NumpyOptimizer):
        def param_roles(self, params):
            return {"x": "norm"}

    params = {"x": np.ones(3), "y.bias": np.ones(3)}
    assert issubclass(Tagged, BaseOptimizer)
    opt = Tagged(nn.SGD([{"params": {"role": "norm"}}, {"params": "*"}], 0.1).to_canonical(), params)
    assert resolved(opt) == [("x",), ("y.bias",)]
    with pytest.raises(GroupError):   # without the hook, the fallback: "x" is a weight, no norm
        NumpyOptimizer(nn.SGD([{"params": {"role": "norm"}}, {"params": "*"}], 0.1).to_canonical(), params)


def test_wrong_selector_type_still_a_type_error():
    with pytest.raises(SelectorTypeError):
        nn.SGD([{"params": [{"role": "bias"}]}, {"params": "*"}], learning_rate=0.1)


# -- the guide's network on NumPy (fallback), torch and Keras (types) -------------------------
def test_guide_grouping_with_roles_equals_the_name_grouping_bitwise_on_numpy():
    names_groups = [
        {"order_params": "*"},
        {"params": ["layer1.0.weight", "layer2.0.weight"], "weight_decay": 1e-4, "lr": CONV_LR},
        {"params": ["layer1.1.gamma", "layer1.1.beta", "layer2.1.gamma", "layer2.1.beta"],
         "weight_decay": 0.0, "lr": 1e-4},
        {"params": "fc.weight", "weight_decay": 1e-5, "lr": 1e-3},
        {"params": "*"},
    ]
    runs = []
    for groups in (guide_groups(), names_groups):
        params = streams.as_dtype(streams.initial_params(layouts.guide, seed=0), "float32")
        opt = optbridge.build(guide_spec(groups), params)
        for step in range(3):
            opt.step(streams.as_dtype(streams.gradients(layouts.guide, step, seed=0), "float32"))
        runs.append((resolved(opt), params))
    assert runs[0][0] == runs[1][0]
    assert all(runs[0][1][n].tobytes() == runs[1][1][n].tobytes() for n, _ in layouts.guide)


def torch_guide():
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    class Network(tnn.Module):
        def __init__(self):
            super().__init__()
            self.layer1 = tnn.Sequential(tnn.Conv2d(3, 12, 3, bias=False), tnn.BatchNorm2d(12), tnn.ReLU(),
                                         tnn.MaxPool2d(2))
            self.layer2 = tnn.Sequential(tnn.Conv2d(12, 4, 3, bias=False), tnn.BatchNorm2d(4), tnn.ReLU(),
                                         tnn.MaxPool2d(2))
            self.pool = tnn.AdaptiveMaxPool2d((5, 5))
            self.fc = tnn.Linear(100, 10)

        def forward(self, x):
            return self.fc(self.pool(self.layer2(self.layer1(x))).flatten(1))

    torch.manual_seed(0)
    return Network()


def keras_guide():
    keras = pytest.importorskip("keras")
    layers = keras.layers
    return keras.Sequential([
        keras.Input((32, 32, 3)),
        layers.Conv2D(12, 3, use_bias=False, name="conv1"), layers.BatchNormalization(name="bn1"), layers.ReLU(),
        layers.MaxPooling2D(2),
        layers.Conv2D(4, 3, use_bias=False, name="conv2"), layers.BatchNormalization(name="bn2"), layers.ReLU(),
        layers.MaxPooling2D(2),
        layers.Resizing(5, 5), layers.Flatten(), layers.Dense(10, name="fc"),
    ], name="guide")


TORCH_GROUPS = [
    ("layer1.0.weight", "layer2.0.weight"),
    ("layer1.1.weight", "layer1.1.bias", "layer2.1.weight", "layer2.1.bias"),
    ("fc.weight",),
    ("fc.bias",),
]
KERAS_GROUPS = [
    ("guide/conv1/kernel", "guide/conv2/kernel"),
    ("guide/bn1/gamma", "guide/bn1/beta", "guide/bn2/gamma", "guide/bn2/beta"),
    ("guide/fc/kernel",),
    ("guide/fc/bias",),
]


def _torch_train(opt, model, steps=3):
    import torch

    for step in range(steps):
        for i, p in enumerate(model.parameters()):
            p.grad = torch.from_numpy(
                np.random.default_rng([step, i]).standard_normal(tuple(p.shape)).astype(np.float32))
        opt.step()


def test_torch_module_roles_resolve_the_guide_grouping_and_train_like_names():
    model = torch_guide()
    opt = optbridge.build(guide_spec(), model)
    assert type(opt).__module__.startswith("optbridge.backends.torch")
    assert resolved(opt) == TORCH_GROUPS
    assert opt.engine.param_names == tuple(n for n, _ in model.named_parameters())
    by_name = [{"order_params": "*"}] + [
        {**g, "params": list(names)} for g, names in zip(guide_groups()[1:], TORCH_GROUPS)]
    twin = torch_guide()
    twin.load_state_dict(model.state_dict())
    opt_names = optbridge.build(guide_spec(by_name), twin.named_parameters())
    _torch_train(opt, model)
    _torch_train(opt_names, twin)
    for (n, a), (_, b) in zip(model.named_parameters(), twin.named_parameters()):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy()), n


def test_torch_names_module_gives_roles_and_tied_parameters_take_the_first_owner():
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Embedding(6, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 6))
    model[2].weight = model[0].weight      # tied: the embedding owns it
    spec = optim.SGD([{"params": {"role": "embedding"}}, {"params": {"role": "norm"}}, {"params": "*"}], lr=0.1)
    opt = optbridge.build(spec, model.parameters(), names=model)
    assert resolved(opt) == [("0.weight",), ("1.weight", "1.bias"), ("2.bias",)]


def test_keras_model_roles_resolve_the_guide_grouping_and_train_like_names():
    tf = pytest.importorskip("tensorflow")
    model = keras_guide()
    opt = optbridge.build(guide_spec(), model)
    assert resolved(opt) == KERAS_GROUPS
    twin = keras_guide()
    twin.set_weights(model.get_weights())
    by_name = [{"order_params": "*"}] + [
        {**g, "params": list(names)} for g, names in zip(guide_groups()[1:], KERAS_GROUPS)]
    opt_names = optbridge.build(guide_spec(by_name), twin.trainable_variables)
    for step in range(3):
        grads = {v.path: tf.constant(np.random.default_rng([step, i]).standard_normal(tuple(v.shape)),
                                     dtype=tf.float32)
                 for i, v in enumerate(model.trainable_variables)}
        opt.step(grads)
        opt_names.step(grads)
    for a, b in zip(model.trainable_variables, twin.trainable_variables):
        assert np.array_equal(a.numpy(), b.numpy()), a.path


def test_torch_and_keras_versions_of_the_guide_resolve_to_the_same_groups():
    t = optbridge.build(guide_spec(), torch_guide())
    k = optbridge.build(guide_spec(), keras_guide())
    shapes_t = [[tuple(t.engine.params[n].shape) for n in g] for g in resolved(t)]
    shapes_k = [[tuple(k.engine.params[n].shape) for n in g] for g in resolved(k)]
    assert [len(g) for g in shapes_t] == [len(g) for g in shapes_k] == [2, 4, 1, 1]
    # the same tensors: torch's (out, in, kh, kw) is Keras's (kh, kw, in, out); Linear's (out, in) is Dense's (in, out)
    assert [sorted(map(np.prod, g)) for g in shapes_t] == [sorted(map(np.prod, g)) for g in shapes_k]
    # MindSpore's names for the same network (the guide layout) resolve alike by the fallback
    ms = resolve_groups([g["params"] for g in guide_groups()[1:]], [ParamInfo(n, s) for n, s in layouts.guide])
    assert [len(g.names) for g in ms.groups] == [2, 4, 1, 1]


def test_keras_layer_roles_cover_embedding_layernorm_and_nested_models():
    keras = pytest.importorskip("keras")
    inner = keras.Sequential([keras.layers.Dense(3, name="d"), keras.layers.LayerNormalization(name="ln")],
                             name="inner")
    model = keras.Sequential([keras.Input((5,), dtype="int32"), keras.layers.Embedding(10, 4, name="emb"), inner],
                             name="m")
    spec = optim.SGD([{"params": {"role": "embedding"}}, {"params": {"role": "norm"}},
                      {"params": {"role": "bias"}}, {"params": "*"}], lr=0.1)
    opt = optbridge.build(spec, model)
    assert resolved(opt) == [("m/emb/embeddings",), ("m/inner/ln/gamma", "m/inner/ln/beta"),
                             ("m/inner/d/bias",), ("m/inner/d/kernel",)]
