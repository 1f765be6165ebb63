"""``capturable=True``: the torch backend's step traced whole by ``torch.compile(fullgraph=True)``.

Without it ``step()`` is a graph break, so ``fullgraph=True`` failed. Each test runs a
capturable optimizer's step compiled with ``fullgraph=True`` beside a twin stepping eagerly
on the reference path (the shared rule, the NumPy reference's bits on CPU) with the same
gradients, and compares bit for bit: over steps whose learning rate and flags change
(SGD's ``first_step``, a per-step lr list, groups) without a recompile, and with the
optimizer used from the host between compiled steps (a torch scheduler, ``param_groups``
writes, ``state_dict``/``load_state_dict``, ``add_param_group``, an eager step). The last
test runs every algorithm's rule and flags through the traced branch eagerly, against the
NumPy reference.
"""
from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

import optbridge  # noqa: E402
from optbridge.dialects.mindspore import nn  # noqa: E402
from optbridge.dialects.torch import optim  # noqa: E402
from optbridge.errors import SpecTypeError, SpecValueError  # noqa: E402

SHAPES = {"fc.weight": (16, 8), "fc.bias": (16,), "scale": ()}
SPECS = {
    "sgd_nesterov_wd": lambda: optim.SGD(None, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "ms_momentum_lr_list": lambda: nn.Momentum("*", nn.piecewise_constant_lr([3, 6, 40], [0.1, 0.05, 0.01]), 0.9),
    "adam_amsgrad_groups": lambda: optim.Adam([{"params": ["fc.*"], "lr": 0.02}, {"params": "*"}], lr=1e-2,
                                              amsgrad=True),
}


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def parameters() -> dict[str, torch.nn.Parameter]:
    g = torch.Generator().manual_seed(0)
    return {n: torch.nn.Parameter(torch.randn(s, generator=g)) for n, s in SHAPES.items()}


def set_grads(tensors: list[dict[str, torch.Tensor]], t: int) -> None:
    g = torch.Generator().manual_seed(10 + t)
    for n, s in SHAPES.items():
        grad = torch.randn(s, generator=g)
        for params in tensors:
            params[n].grad = grad.clone()


def pair(make, **options):
    ours, twin = parameters(), parameters()
    capturable = optbridge.build(make(), list(ours.items()), capturable=True, path="reference", **options)
    eager = optbridge.build(make(), list(twin.items()), path="reference")
    return capturable, ours, eager, twin


def assert_same(ours, twin, capturable, eager) -> None:
    for n in SHAPES:
        assert torch.equal(ours[n], twin[n]), n
    assert capturable.global_step == eager.global_step
    assert capturable.get_lr() == eager.get_lr()
    mine, theirs = capturable.state_dict(), eager.state_dict()
    assert mine["groups"] == theirs["groups"]
    for name, slots in theirs["state"].items():
        for slot, value in slots.items():
            assert torch.equal(torch.as_tensor(mine["state"][name][slot]), torch.as_tensor(value)), (name, slot)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_a_fullgraph_compiled_step_equals_the_eager_rule_and_traces_once(name):
    capturable, ours, eager, twin = pair(SPECS[name])
    step = torch.compile(capturable.step, fullgraph=True)
    with torch._dynamo.config.patch(error_on_recompile=True):
        for t in range(10):
            set_grads([ours, twin], t)
            step()
            eager.step()
    assert_same(ours, twin, capturable, eager)


# compiled before the scheduler is built: its step-counting wrapper lives in a file dynamo will not
# trace (as with torch.optim), so the scheduler warns that it saw no optimizer.step()
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_the_host_uses_the_optimizer_between_compiled_steps():
    make = lambda: optim.SGD(None, lr=0.1, momentum=0.9)  # noqa: E731
    capturable, ours, eager, twin = pair(make)
    step = torch.compile(capturable.step, fullgraph=True)
    schedulers = [torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5) for o in (capturable, eager)]
    for t in range(9):
        set_grads([ours, twin], t)
        if t == 4:
            capturable.step()          # an eager step in between
        else:
            step()
        eager.step()
        for s in schedulers:
            s.step()
        if t == 5:
            for o in (capturable, eager):
                o.param_groups[0]["momentum"] = 0.8
        assert capturable.param_groups[0]["lr"] == eager.param_groups[0]["lr"]
    assert_same(ours, twin, capturable, eager)


def test_state_dicts_and_new_groups_between_compiled_steps():
    make = lambda: optim.AdamW([{"params": ["fc.weight"]}], lr=1e-2)  # noqa: E731
    ours, twin = parameters(), parameters()
    capturable = optbridge.build(make(), [("fc.weight", ours["fc.weight"])], capturable=True, path="reference")
    eager = optbridge.build(make(), [("fc.weight", twin["fc.weight"])], path="reference")
    step = torch.compile(capturable.step, fullgraph=True)
    for t in range(6):
        set_grads([ours, twin], t)
        if t == 2:
            saved = copy.deepcopy(capturable.state_dict())
            assert saved["global_step"] == 2
        if t == 3:
            for o, params in ((capturable, ours), (eager, twin)):
                o.add_param_group({"params": [params["fc.bias"], params["scale"]], "lr": 0.05,
                                   "param_names": ["fc.bias", "scale"]})
        step()
        eager.step()
    assert_same(ours, twin, capturable, eager)
    before = {n: p.detach().clone() for n, p in ours.items()}
    restored = optbridge.build(make(), [("fc.weight", ours["fc.weight"])], capturable=True)
    restored.load_state_dict(saved)
    assert restored.global_step == 2
    assert all(torch.equal(before[n], ours[n]) for n in ours)


def test_past_the_horizon_a_compiled_step_gives_nan_and_host_use_refills_the_table():
    make = lambda: optim.SGD(None, lr=0.1)  # noqa: E731
    capturable, ours, eager, twin = pair(make, horizon=4)
    step = torch.compile(capturable.step, fullgraph=True)
    for t in range(9):
        set_grads([ours, twin], t)
        step()
        eager.step()
        assert capturable.global_step == t + 1   # a host use: the table is refilled when half is used
    assert_same(ours, twin, capturable, eager)
    for t in range(5):                           # no host use: the fifth step has no row
        set_grads([ours], t)
        step()
    assert torch.isnan(ours["fc.weight"]).all()


@pytest.mark.parametrize(("options", "error", "message"), [
    ({"capturable": True, "flat": True}, SpecValueError, "capturable=True does not take flat=True"),
    ({"capturable": 1}, SpecTypeError, "capturable must be a bool"),
    ({"capturable": True, "horizon": 0}, SpecValueError, "horizon must be an int >= 1"),
])
def test_bad_capturable_options_are_refused(options, error, message):
    with pytest.raises(error, match=message):
        optbridge.build(optim.SGD(None, lr=0.1), list(parameters().items()), **options)


# -- every algorithm's rule on the functional ops -------------------------------------------------
def one_case_per_algorithm() -> list:
    from optbridge.algorithms import algorithm_registry
    from optbridge.conformance import CASES

    chosen: dict[str, object] = {}
    for case in CASES:
        try:
            spec = optbridge.from_dict(dict(case.config)).to_canonical()
        except Exception:  # a case about a refused config
            continue
        name = spec.algorithm.name
        if name in algorithm_registry and algorithm_registry[name].has_rule() and name not in chosen \
                and "float32" in case.dtypes and not case.xfails:
            chosen[name] = case
    return [pytest.param(case, id=name) for name, case in sorted(chosen.items())]


@pytest.mark.parametrize("case", one_case_per_algorithm())
def test_the_traced_step_runs_every_algorithms_rule(case):
    """The traced branch of ``step()`` run eagerly (``torch.compiler.is_compiling`` patched
    during each step), for one conformance case per algorithm, judged by the suite's pass
    rule against the NumPy reference: the rules on the functional ops with tensor flags,
    and the device table, for every algorithm (compiling each would take minutes)."""
    from unittest import mock

    from optbridge.backends.torch import backend as torch_backend
    from optbridge.conformance import run_case

    variant = torch_backend()

    def build(spec, params, kernels, **options):
        opt = variant.build(spec, params, kernels, capturable=True, **options)
        step = opt.step

        def traced_step(closure=None):
            with mock.patch.object(torch.compiler, "is_compiling", return_value=True):
                return step(closure)

        opt.step = traced_step
        return opt

    result = run_case(case, type(variant)(**{**vars(variant), "build": build}), "float32")
    assert result.status == "passed", (result.status, result.reason, result.failure)
