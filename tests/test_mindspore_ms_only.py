"""nn.FTRL, nn.ProximalAdagrad, nn.Lamb and nn.LARS: behaviour beyond the shared suites.

Numbers are checked against independent float64 re-derivations or a live Keras run
(the Keras flags of canonical ``ftrl`` and ``lamb``), never against the code under test.
"""
from __future__ import annotations

import importlib.util

import builtins
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import optbridge
from optbridge.algorithms import FTRL, LARS, Lamb
from optbridge.dialects.mindspore import nn
from optbridge.errors import ConfigError
from optbridge.groups import ParamInfo
from optbridge.spec import OptimizerSpec

sys.path.insert(0, str(Path(__file__).parent / "goldens"))
from error_records import WRAPPER_RECORDS  # noqa: E402

#: Config formats this environment can write (YAML needs the optional PyYAML).
CONFIG_FORMATS = ("json", "toml") + (("yaml",) if importlib.util.find_spec("yaml") else ())

GOLDEN = json.loads((Path(__file__).parent / "goldens" / "mindspore_errors.json").read_text())["records"]
f32 = np.float32


# -- nn.LARS construction ----------------------------------------------------------------------
def _wrapped(name, kwargs):
    return None if name is None else getattr(nn, name)(**kwargs)


@pytest.mark.parametrize("record_id,lars_kwargs,wrapped,wrapped_kwargs", WRAPPER_RECORDS,
                         ids=[r[0] for r in WRAPPER_RECORDS])
def test_lars_raises_like_mindspore(record_id, lars_kwargs, wrapped, wrapped_kwargs):
    expected = GOLDEN[record_id]
    inner = _wrapped(wrapped, wrapped_kwargs)
    if expected["type"] is None:
        nn.LARS(inner, **lars_kwargs)
        return
    if record_id == "lars_optimizer_none":
        # MindSpore's argument recorder fails first (AttributeError 'init_params'); optbridge
        # raises the TypeError of MindSpore's own check, which 2.10 never reaches.
        assert "init_params" in expected["message"]
        with pytest.raises(TypeError, match="the type of 'optimizer' should be 'Optimizer'"):
            nn.LARS(inner, **lars_kwargs)
        return
    with pytest.raises(getattr(builtins, expected["type"])) as info:
        nn.LARS(inner, **lars_kwargs)
    assert str(info.value.args[0]) == expected["message"]


def test_lars_refuses_what_optbridge_cannot_reproduce():
    with pytest.raises(ValueError, match="grad_centralization"):
        nn.LARS(nn.Momentum([{"params": "*", "grad_centralization": True}], 0.1, 0.9))
    with pytest.raises(TypeError, match="parameter selector"):
        nn.LARS(nn.Momentum(None, 0.1, 0.9), lars_filter=lambda p: True)
    with pytest.raises(TypeError, match="should be 'Optimizer'"):
        nn.LARS(nn.LARS(nn.Momentum(None, 0.1, 0.9)))
    with pytest.raises(ValueError, match="'inner' must be a canonical algorithm other than lars"):
        LARS(inner=LARS())


def test_lars_config_round_trip_in_every_format(tmp_path):
    spec = nn.LARS(nn.Adam([{"params": "conv*", "lr": 0.02}, {"params": "*"}], learning_rate=0.01, loss_scale=2.0),
                   epsilon=1e-8, use_clip=True, lars_filter=["conv*", "fc.weight"])
    for suffix in CONFIG_FORMATS:
        path = optbridge.save(spec, tmp_path / f"lars.{suffix}")
        assert optbridge.load(path) == spec
    config = optbridge.to_dict(spec)
    assert config["base_optimizer"]["params"][0] == {"params": "conv*", "lr": 0.02}
    bad = dict(config, base_optimizer=dict(config["base_optimizer"], betas=1))
    with pytest.raises(ConfigError, match=r"base_optimizer\.betas: unknown argument"):
        optbridge.from_dict(bad)
    with pytest.raises(ConfigError, match="base_optimizer: must be an optimizer config"):
        optbridge.from_dict(dict(config, base_optimizer="mindspore.nn.Adam"))


def test_lars_lowering_keeps_the_wrapped_optimizers_groups_and_scale():
    inner = nn.Momentum([{"params": "conv*", "lr": 0.05, "weight_decay": 0.01}, {"params": "*"}], 0.1, 0.9,
                        loss_scale=8.0)
    spec = nn.LARS(inner, coefficient=0.01).to_canonical()
    base = inner.to_canonical()
    assert spec.groups == base.groups and spec.lr == base.lr and spec.loss_scale == 8.0
    assert spec.preprocess == ("loss_scale",) and spec.origin == "mindspore.nn.LARS"
    assert spec.algorithm == LARS(inner=base.algorithm, coefficient=0.01, loss_scale=8.0)


def test_lars_default_filter_and_selector_partition():
    infos = [ParamInfo("enc.LayerNorm.gamma", (4,)), ParamInfo("fc.bias", (3,)), ParamInfo("fc.weight", (3, 4))]
    assert LARS().partition(infos) == {"enc.LayerNorm.gamma": "", "fc.bias": "", "fc.weight": "lars"}
    assert LARS(lars_filter={"max_ndim": 1}).partition(infos) == {
        "enc.LayerNorm.gamma": "lars", "fc.bias": "lars", "fc.weight": ""}


def _lars_momentum_reference(params, grads_per_step, lr, mu, wd_of_step, coefficient, eps=1e-5):
    """LARSUpdate's documented formula, then momentum; float64, every parameter selected."""
    moments = {n: np.zeros_like(p) for n, p in params.items()}
    for step, grads in enumerate(grads_per_step):
        wd = wd_of_step(step)
        for n, g in grads.items():
            w = params[n]
            trust = coefficient * np.linalg.norm(w) / (np.linalg.norm(g) + wd * np.linalg.norm(w) + eps)
            moments[n] = mu * moments[n] + trust * (g + wd * w)
            params[n] = w - lr * moments[n]
    return params


def test_lars_reads_a_dynamic_weight_decay_at_twice_the_step():
    """MindSpore 2.10 advances global_step twice per step here (measured: 6 after 3 steps)."""
    rng = np.random.default_rng(3)
    init = {"a.weight": rng.standard_normal((3, 4)), "b.weight": rng.standard_normal((5,))}
    grads = [{n: rng.standard_normal(p.shape) for n, p in init.items()} for _ in range(5)]
    schedule = nn.ExponentialDecayLR(0.05, 0.5, 1)
    spec = nn.LARS(nn.Momentum(None, 0.1, 0.9, weight_decay=schedule), coefficient=0.05)
    params = {n: p.copy() for n, p in init.items()}
    opt = optbridge.build(spec, params)
    for g in grads:
        opt.step(g)
    lr, mu, coefficient = (float(f32(x)) for x in (0.1, 0.9, 0.05))
    expected = _lars_momentum_reference({n: p.copy() for n, p in init.items()}, grads, lr, mu,
                                        lambda s: float(f32(schedule(2 * s))), coefficient)
    for n in init:
        np.testing.assert_allclose(params[n], expected[n], rtol=1e-12, atol=1e-14)
    assert opt.global_step == 5
    # with a dynamic learning rate MindSpore advances the step once, and so does the dialect
    dynamic_lr = nn.LARS(nn.Momentum(None, [0.1] * 5, 0.9, weight_decay=schedule), coefficient=0.05)
    params = {n: p.copy() for n, p in init.items()}
    opt = optbridge.build(dynamic_lr, params)
    for g in grads:
        opt.step(g)
    expected = _lars_momentum_reference({n: p.copy() for n, p in init.items()}, grads, lr, mu,
                                        lambda s: float(f32(schedule(s))), coefficient)
    for n in init:
        np.testing.assert_allclose(params[n], expected[n], rtol=1e-12, atol=1e-14)


# -- nn.FTRL -----------------------------------------------------------------------------------
def test_ftrl_decays_beta_and_gamma_when_ungrouped():
    assert nn.FTRL(None, weight_decay=0.1).to_canonical().decay_filter is None
    assert nn.Momentum(None, 0.1, 0.9, weight_decay=0.1).to_canonical().decay_filter == "mindspore"


def test_ftrl_refuses_group_and_dynamic_learning_rates():
    for kwargs in (dict(learning_rate=nn.WarmUpLR(0.01, 2)), dict(learning_rate=[0.1, 0.2])):
        with pytest.raises(ValueError, match="dynamic learning rate True and group learning rate False"):
            nn.FTRL(None, **kwargs)
    nn.FTRL(None, weight_decay=nn.WarmUpLR(0.01, 2))  # a dynamic weight decay is accepted


# -- Keras flags, against Keras 3 itself --------------------------------------------------------
def _keras_run(make, init, grads, weight_decay=None):
    keras = pytest.importorskip("keras")
    variables = [keras.Variable(v, dtype="float32") for v in init.values()]
    opt = make(keras)
    for g in grads:
        opt.apply_gradients([(keras.ops.convert_to_tensor(x), v) for x, v in zip(g.values(), variables)])
    return {n: np.asarray(keras.ops.convert_to_numpy(v)) for n, v in zip(init, variables)}


def _optbridge_run(algorithm, init, grads, lr, weight_decay):
    spec = OptimizerSpec(algorithm=algorithm, lr=optbridge.schedules.values.Constant(lr),
                         weight_decay=optbridge.schedules.values.Constant(weight_decay), precision="float32",
                         preprocess=("weight_decay",))
    params = {n: v.copy() for n, v in init.items()}
    opt = optbridge.build(spec, params, backend="numpy")
    for g in grads:
        opt.step(g)
    return params


def _keras_case():
    rng = np.random.default_rng(11)
    init = {"w": rng.standard_normal((6, 5)).astype(np.float32), "b": rng.standard_normal(5).astype(np.float32)}
    grads = [{n: rng.standard_normal(v.shape).astype(np.float32) for n, v in init.items()} for _ in range(20)]
    return init, grads


def _assert_keras_close(ours, theirs):
    for n in ours:
        np.testing.assert_allclose(ours[n], theirs[n], rtol=2e-5, atol=2e-6)


def test_canonical_ftrl_keras_flags_match_keras():
    init, grads = _keras_case()
    kw = dict(learning_rate=0.05, learning_rate_power=-0.3, initial_accumulator_value=0.2,
              l1_regularization_strength=0.01, l2_regularization_strength=0.02,
              l2_shrinkage_regularization_strength=0.03, beta=0.1, weight_decay=0.004)
    theirs = _keras_run(lambda keras: keras.optimizers.Ftrl(**kw), init, grads)
    algorithm = FTRL(lr_power=-0.3, l1=0.01, l2=0.02, initial_accumulator_value=0.2, l2_shrinkage=0.03, beta=0.1,
                     power_precision="native", weight_decay_form="keras")
    _assert_keras_close(_optbridge_run(algorithm, init, grads, 0.05, 0.004), theirs)


def test_canonical_lamb_keras_flag_matches_keras():
    init, grads = _keras_case()
    theirs = _keras_run(lambda keras: keras.optimizers.Lamb(learning_rate=0.01, epsilon=1e-7, weight_decay=0.01),
                        init, grads)
    algorithm = Lamb(eps=1e-7, weight_decay_form="keras")
    _assert_keras_close(_optbridge_run(algorithm, init, grads, 0.01, 0.01), theirs)
