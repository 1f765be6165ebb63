"""``optbridge.from_torch``: live ``torch.optim`` optimizers imported as torch-dialect specs.

Every hyperparameter set of the torch catalog (``optbridge.conformance.catalog.torch``) is
built as a real ``torch.optim`` optimizer with two param groups (the second with its own
lr), imported, built on the torch backend over a copy of the model, and both are fed the
same float64 gradients; every parameter agrees within the live tests' float64 tolerance
(``tests/torch_live.py``: max |ours − torch| ≤ 1e-12 · max |torch| per tensor) after
every step (catalog sets with ``capturable``/``differentiable``, which torch cannot step on
CPU leaf parameters, are imported with those flags and compared on torch's default path).
Each ``lr_scheduler`` class the dialect declares is imported the same way
and run against torch's scheduler. Refusals name the class, group or key at fault.
"""
from __future__ import annotations

import copy
import json
import re
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import optbridge  # noqa: E402
from optbridge.conformance.catalog.torch import DIALECT_CASES  # noqa: E402
from optbridge.dialects.torch import optim  # noqa: E402
from optbridge.errors import SpecKeyError, SpecTypeError, SpecValueError  # noqa: E402

STEPS = 6
#: flags torch refuses to step with on CPU leaf parameters ("capturable=True ... supported devices: ['cuda', ...]",
#: "a leaf Variable that requires grad is being used in an in-place operation"): the import carries them, the
#: native run takes torch's default path (they select implementations, not formulas: dialects/torch/optim/_base.py)
CPU_UNSTEPPABLE = ("capturable", "differentiable")
L = torch.optim.lr_scheduler


def model(bias: bool = True) -> torch.nn.Module:
    torch.manual_seed(3)
    return torch.nn.Sequential(torch.nn.Linear(3, 4, bias=bias), torch.nn.Tanh(),
                               torch.nn.Linear(4, 2, bias=bias)).double()


def gradients(net: torch.nn.Module, step: int) -> list[torch.Tensor]:
    rng = np.random.default_rng(50 + step)
    return [torch.from_numpy(rng.standard_normal(tuple(p.shape))) for p in net.parameters()]


def assert_runs_like(native, net, spec, schedulers=(), metrics=None, steps=STEPS):
    """Build ``spec`` on the torch backend over a copy of ``net`` and step both on the same gradients."""
    ours = copy.deepcopy(net)
    opt = optbridge.build(spec, ours.named_parameters())
    assert type(opt).__module__.startswith("optbridge.backends.torch")
    for step in range(steps):
        for theirs_p, ours_p, g in zip(net.parameters(), ours.parameters(), gradients(net, step)):
            theirs_p.grad = g.clone()
            ours_p.grad = g.clone()
        native.step()
        opt.step()
        for s in schedulers:
            s.step(metrics[step]) if metrics else s.step()
        if metrics:
            opt.end_epoch(metrics[step])
        for (name, a), b in zip(ours.named_parameters(), net.parameters()):
            scale = float(b.detach().abs().max())
            deviation = float((a.detach() - b.detach()).abs().max())
            assert deviation <= 1e-12 * scale, f"step {step} {name}: {deviation:.3g} (scale {scale:.3g})"


# -- the torch catalog ---------------------------------------------------------------------------
def catalog_cases():
    """Every set of every torch class, but those that add gradient transforms (a torch optimizer
    has none to import: the loop clips)."""
    cases = []
    for qualname, dc in DIALECT_CASES.items():
        for case_id, hp in dc.hyperparameters:
            if "transforms" in hp:
                continue
            cases.append(pytest.param(qualname.rsplit(".", 1)[1], dc, dict(hp), id=f"{qualname}-{case_id}"))
    return cases


@pytest.mark.parametrize(("name", "dc", "hp"), catalog_cases())
def test_every_catalog_optimizer_imports_and_runs_like_torch(name, dc, hp):
    net = model(bias=name != "Muon")  # torch's Muon takes matrices only
    kwargs = dict(hp)
    if "off" not in dc.wd_forms or len(dc.wd_forms) > 1:
        kwargs["weight_decay"] = dc.weight_decay
    groups = [{"params": net[0].parameters(), "lr": dc.lr * 0.5}, {"params": net[2].parameters()}]
    native = getattr(torch.optim, name)(groups, lr=dc.lr, **kwargs)
    spec = optbridge.from_torch(native, net)
    assert isinstance(spec, getattr(optim, name))
    for key, value in kwargs.items():
        assert spec.arguments[key] == value, key
    assert optbridge.from_dict(json.loads(json.dumps(optbridge.to_dict(spec)))) == spec
    for options in (native.defaults, *native.param_groups):  # torch cannot step these on CPU leaf tensors
        options.update({k: False for k in CPU_UNSTEPPABLE if k in options})
    assert_runs_like(native, net, spec)


def test_the_catalog_covers_every_torch_dialect_class():
    assert {q.rsplit(".", 1)[1] for q in DIALECT_CASES} == set(optim.__all__) - {"TorchOptimizer", "lr_scheduler"}


# -- schedulers -------------------------------------------------------------------------------------
SCHEDULERS = {
    "StepLR": lambda o: L.StepLR(o, step_size=2, gamma=0.5),
    "MultiStepLR": lambda o: L.MultiStepLR(o, milestones=[1, 3, 3], gamma=0.7),
    "ConstantLR": lambda o: L.ConstantLR(o, factor=0.4, total_iters=3),
    "LinearLR": lambda o: L.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=4),
    "ExponentialLR": lambda o: L.ExponentialLR(o, gamma=0.8),
    "PolynomialLR": lambda o: L.PolynomialLR(o, total_iters=5, power=2.0),
    "CosineAnnealingLR": lambda o: L.CosineAnnealingLR(o, T_max=4, eta_min=1e-3),
    "CosineAnnealingWarmRestarts": lambda o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2, eta_min=1e-3),
    "CyclicLR": lambda o: L.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=2, step_size_down=3),
    "CyclicLR_exp_range": lambda o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range",
                                               gamma=0.9, cycle_momentum=False),
    "OneCycleLR": lambda o: L.OneCycleLR(o, max_lr=[0.1, 0.2], total_steps=STEPS + 1, pct_start=0.3),
    "OneCycleLR_three_phase": lambda o: L.OneCycleLR(o, max_lr=0.1, total_steps=STEPS + 2, three_phase=True,
                                                     anneal_strategy="linear", div_factor=7.0),
    "SequentialLR": lambda o: L.SequentialLR(o, [L.LinearLR(o, start_factor=0.5, total_iters=2),
                                                 L.ExponentialLR(o, gamma=0.9)], milestones=[2]),
    "ChainedScheduler": lambda o: L.ChainedScheduler([L.StepLR(o, step_size=2, gamma=0.5),
                                                      L.ExponentialLR(o, gamma=0.9)]),
}


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("kind", sorted(SCHEDULERS))
def test_an_attached_scheduler_becomes_the_declared_scheduler(kind, optimizer):
    net = model()
    groups = [{"params": net[0].parameters(), "lr": 0.05}, {"params": net[2].parameters()}]
    native = (torch.optim.SGD(groups, lr=0.1, momentum=0.9) if optimizer == "SGD"
              else torch.optim.Adam(groups, lr=0.1, betas=(0.9, 0.99)))
    scheduler = SCHEDULERS[kind](native)
    spec = optbridge.from_torch(native, net, scheduler, interval="step")
    name = kind.split("_")[0]
    assert all(type(g["lr"]).__name__ == f"{name}Declaration" for g in spec.arguments["params"])
    assert optbridge.from_dict(json.loads(json.dumps(optbridge.to_dict(spec)))) == spec
    assert_runs_like(native, net, spec, [scheduler])


def test_reduce_lr_on_plateau_and_a_list_of_schedulers():
    metrics = [1.0, 0.9, 0.95, 0.97, 0.99, 1.2]
    net = model()
    native = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    plateau = L.ReduceLROnPlateau(native, factor=0.5, patience=1, min_lr=0.02)
    spec = optbridge.from_torch(native, net, plateau)
    assert spec.arguments["lr"].interval == "epoch"
    assert_runs_like(native, net, spec, [plateau], metrics=metrics)

    net = model()
    native = torch.optim.SGD(net.parameters(), lr=0.1)
    both = [L.StepLR(native, step_size=2, gamma=0.5), L.ExponentialLR(native, gamma=0.9)]
    spec = optbridge.from_torch(native, net, both, interval="step")
    assert spec.arguments["lr"].name == "ChainedScheduler"
    assert_runs_like(native, net, spec, both)


# -- names and selectors -----------------------------------------------------------------------------
def test_names_come_from_the_model_or_from_torchs_named_param_groups():
    net = model()
    spec = optbridge.from_torch(torch.optim.SGD(net.parameters(), lr=0.1), net)
    assert spec.arguments["params"] is None and spec.arguments["unassigned"] == "error"
    named = torch.optim.Adam(net.named_parameters(), lr=0.01, amsgrad=True)
    spec = optbridge.from_torch(named)
    assert spec.arguments["params"] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert spec.arguments["unassigned"] == "frozen" and spec.arguments["amsgrad"] is True
    assert_runs_like(named, net, spec)


def test_groups_become_module_globs_and_parameters_outside_the_optimizer_stay_frozen():
    net = model()
    native = torch.optim.AdamW([{"params": net[0].parameters(), "lr": 1e-3, "decoupled_weight_decay": False},
                                {"params": [net[2].weight], "weight_decay": 0.0}], lr=1e-2)
    spec = optbridge.from_torch(native, net)
    assert [g["params"] for g in spec.arguments["params"]] == ["0.*", "2.weight"]
    assert spec.arguments["params"][0] == {"params": "0.*", "lr": 1e-3, "decoupled_weight_decay": False}
    assert spec.arguments["unassigned"] == "frozen"
    assert_runs_like(native, net, spec)  # 2.bias: torch leaves it, the spec's unassigned="frozen" too


def test_a_compiled_model_imports_under_the_plain_models_names():
    from optbridge.dialects.torch.names import plain_name

    assert [plain_name(n) for n in ("_orig_mod.fc.weight", "encoder._orig_mod.fc.weight", "fc.bias", "_orig_mod_x.w")] \
        == ["fc.weight", "encoder.fc.weight", "fc.bias", "_orig_mod_x.w"]
    net = model()
    compiled = {f"_orig_mod.{n}": p for n, p in net.named_parameters()}
    native = torch.optim.SGD([{"params": net[0].parameters()}, {"params": net[2].parameters(), "lr": 0.2}], lr=0.1)
    assert optbridge.from_torch(native, compiled) == optbridge.from_torch(native, net)


def test_the_last_group_takes_the_rest_and_tensor_options_become_numbers():
    net = model()
    native = torch.optim.SGD([{"params": [net[0].weight]}, {"params": [net[0].bias, *net[2].parameters()],
                                                            "lr": torch.tensor(0.02)}], lr=0.1, momentum=0.5)
    spec = optbridge.from_torch(native, net)
    assert spec.arguments["params"] == [{"params": "0.weight"}, {"params": "*", "lr": pytest.approx(0.02)}]
    assert_runs_like(native, net, spec)


def test_a_group_lr_changed_by_an_unnamed_scheduler_warns_and_imports_the_current_lr():
    net = model()
    native = torch.optim.SGD(net.parameters(), lr=0.1)
    L.ConstantLR(native, factor=0.5, total_iters=2)
    with pytest.warns(UserWarning, match="pass scheduler="):
        spec = optbridge.from_torch(native, net)
    assert spec.arguments["lr"] == 0.05


# -- refusals ------------------------------------------------------------------------------------------
class MyAdam(torch.optim.Adam):
    pass


def refusals():
    net = model()
    sgd = torch.optim.SGD(net.parameters(), lr=0.1)
    tagged = torch.optim.SGD([{"params": net.parameters(), "name": "all"}], lr=0.1)
    other = torch.optim.SGD(model().parameters(), lr=0.1)
    return [
        ("lambda", lambda: optbridge.from_torch(sgd, net, L.LambdaLR(sgd, lambda e: 0.9**e)), SpecValueError,
         "LambdaLR holds Python callables"),
        ("multiplicative", lambda: optbridge.from_torch(sgd, net, L.MultiplicativeLR(sgd, lambda e: 0.9)),
         SpecValueError, "MultiplicativeLR holds Python callables"),
        ("scale_fn", lambda: optbridge.from_torch(sgd, net, L.CyclicLR(sgd, 0.01, 0.1, scale_fn=lambda x: 1.0)),
         SpecValueError, "custom scale_fn"),
        ("lbfgs", lambda: optbridge.from_torch(torch.optim.LBFGS(net.parameters()), net), SpecTypeError,
         "torch.optim.LBFGS has no torch-dialect class. Importable: ['ASGD'"),
        ("subclass", lambda: optbridge.from_torch(MyAdam(net.parameters()), net), SpecTypeError, "MyAdam"),
        ("not_an_optimizer", lambda: optbridge.from_torch(object()), SpecTypeError, "takes a torch.optim optimizer"),
        ("tag", lambda: optbridge.from_torch(tagged, net), SpecKeyError, "param_groups[0] holds key(s) ['name']"),
        ("unnamed", lambda: optbridge.from_torch(sgd), SpecValueError, "param_groups[0]['params'][0]"),
        ("foreign_param", lambda: optbridge.from_torch(other, net), SpecValueError, "is not a parameter of 'model'"),
        ("foreign_scheduler", lambda: optbridge.from_torch(sgd, net, L.StepLR(other, 2)), SpecValueError,
         "scheduler (StepLR) is not bound to this optimizer"),
    ]


@pytest.mark.parametrize("index", range(10), ids=[r[0] for r in refusals()])
def test_what_cannot_be_imported_is_refused_with_a_clear_error(index):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, call, error, message = refusals()[index]
        with pytest.raises(error, match=re.escape(message)):
            call()


def test_a_tag_torch_never_reads_can_be_ignored():
    net = model()
    native = torch.optim.SGD([{"params": net.parameters(), "name": "all"}], lr=0.1)
    assert optbridge.from_torch(native, net, ignore_keys=["name"]) == optim.SGD(None, lr=0.1)
