"""The shipped conformance suite: every backend × every case × both dtypes, error inputs,
strict expected failures, missing kernels, and meta-tests that keep the database honest.

Numbers asserted here are computed in the tests (independent NumPy runs, hand-built
arrays), never copied from the code under test.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import inspect
import itertools
import json
import re

import numpy as np
import pytest

import optbridge
from optbridge.algorithms import algorithm_registry
from optbridge.conformance import (
    CASES,
    ERROR_INPUTS,
    GUIDE_EXAMPLE,
    TOLERANCES,
    CaseInfo,
    ErrorInputMismatch,
    case_from_config,
    case_matrix,
    check_error_input,
    format_table,
    run_case,
    run_suite,
    tolerance_for,
    uncovered_dialects,
)
from optbridge.conformance import cases as cases_module
from optbridge.conformance import compare, layouts, streams
from optbridge.conformance.error_inputs import TRIGGERS
from optbridge.conformance.report import format_report, summarize
from optbridge.dialects.base import dialect_registry
from optbridge.dialects.mindspore import nn
from optbridge.errors import ConfigError
from optbridge.plugin import get_backend
from optbridge.schedules.base import schedule_registry

MATRIX = case_matrix()
ERROR_MATRIX = [(b, r) for b, _, _ in case_matrix(cases=CASES[:1], dtypes=("float32",)) for r in ERROR_INPUTS]


def numpy_clone(name: str = "fake", **changes) -> optbridge.plugin.Backend:
    """A backend that is the NumPy backend under another name, with ``changes``."""
    return dataclasses.replace(get_backend("numpy"), name=name, **changes)


def case_by_prefix(prefix: str) -> CaseInfo:
    return next(c for c in CASES if c.id.startswith(prefix))


# -- every backend, every case, both dtypes ------------------------------------------------
@pytest.mark.parametrize("backend,case,dtype", MATRIX, ids=[f"{b.name}-{d}-{c.id}" for b, c, d in MATRIX])
def test_case(backend, case, dtype):
    result = run_case(case, backend, dtype)
    if result.status == "skipped":
        pytest.skip(result.reason)
    if result.status == "xfailed":
        pytest.xfail(result.reason)
    assert result.status == "passed", result.describe()


@pytest.mark.parametrize("backend,record", ERROR_MATRIX, ids=[f"{b.name}-{r.id}" for b, r in ERROR_MATRIX])
def test_error_input(backend, record):
    check = check_error_input(record, backend)
    if check.status == "skipped":
        pytest.skip(check.reason)
    if check.status == "xfailed":
        pytest.xfail(check.reason)
    assert check.status == "passed"
    assert isinstance(check.exception, record.error_type)


# -- meta-tests: the database covers what is registered -------------------------------------
def test_every_registered_dialect_has_hyperparameter_sets():
    assert uncovered_dialects() == [], "add DialectCases entries to the family module in optbridge.conformance.catalog"
    assert {c.optimizer for c in CASES} == set(dialect_registry)


def test_every_registered_algorithm_has_a_case():
    assert set(algorithm_registry) <= {c.algorithm for c in CASES}


def test_every_dialect_has_error_inputs_for_every_trigger_it_can_fail():
    assert {r.optimizer for r in ERROR_INPUTS if r.trigger == "construct"} == set(dialect_registry)
    assert {r.trigger for r in ERROR_INPUTS} == set(TRIGGERS)
    assert len({r.id for r in ERROR_INPUTS}) == len(ERROR_INPUTS)


def test_case_ids_are_unique_and_k_friendly():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    for case_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+", case_id), case_id


def test_cases_run_at_least_seven_steps_in_both_dtypes():
    for case in CASES:
        assert case.steps >= 7, case.id
        assert set(case.dtypes) == {"float32", "float64"}, case.id


def _axes_of(case_id: str) -> tuple[str, str, str, str, str]:
    match = re.fullmatch(r"(.+?)-(\w+)-groups_(\w+)-lr_(\w+)-wd_(\w+)", case_id)
    assert match, case_id
    return match.groups()


def test_cases_cover_every_pair_of_axis_values():
    by_dialect: dict[str, list[tuple[str, ...]]] = {}
    for case in CASES:
        dialect, *axes = _axes_of(case.id)
        by_dialect.setdefault(dialect, []).append(tuple(axes))
    for qualname, entry in cases_module.DIALECT_CASES.items():
        short = f"{qualname.split('.')[0]}.{qualname.split('.')[-1]}"
        chosen = by_dialect[short]
        values = [[label for label, _ in entry.hyperparameters], list(entry.group_forms), list(entry.lr_forms),
                  list(entry.wd_forms)]
        combos = [c for c in itertools.product(*values) if entry.valid is None or entry.valid(*c)]
        for i, j in itertools.combinations(range(4), 2):
            for a, b in {(c[i], c[j]) for c in combos}:
                assert any(c[i] == a and c[j] == b for c in chosen), f"{short}: no case with {a} and {b}"
        for label in values[0]:
            alone = (label, entry.group_forms[0], entry.lr_forms[0], entry.wd_forms[0])
            assert alone in chosen, f"{short}: {label} never runs on its own"


def test_dynamic_weight_decay_declarations_match_the_classes():
    for qualname, entry in cases_module.DIALECT_CASES.items():
        cls = dialect_registry[qualname]
        defaults = {entry.lr_keyword: 0.1, "momentum": 0.9}
        required = {n: defaults[n] for n, p in inspect.signature(cls.__init__).parameters.items()
                    if n in defaults and p.default is p.empty}
        schedule = nn.WarmUpLR(0.01, 2)

        def build():
            if entry.construct is not None:  # a wrapper: the wrapped optimizer takes the weight decay
                return entry.construct(None, {entry.lr_keyword: 0.1, "weight_decay": schedule},
                                       entry.hyperparameters[0][1])
            return cls(None, weight_decay=schedule, **required)

        if entry.dynamic_weight_decay:
            build()
        else:
            with pytest.raises(TypeError, match="dynamic weight decay"):
                build()
            assert not any(c.id.endswith("wd_schedule") for c in CASES if c.optimizer == qualname)


def test_every_boolean_flag_runs_both_ways():
    for qualname in dialect_registry:
        configs = [c.config for c in CASES if c.optimizer == qualname]
        signature = inspect.signature(dialect_registry[qualname].__init__).parameters
        defaults = {n: p.default for n, p in signature.items() if isinstance(p.default, bool)}
        flags = set(defaults) | {k for cfg in configs for k, v in cfg.items() if isinstance(v, bool)}
        # arguments the class accepts only at their default (Keras's use_ema: not modelled)
        flags -= set(getattr(dialect_registry[qualname], "fixed_arguments", ()))
        for flag in flags:
            seen = {bool(cfg.get(flag, defaults.get(flag, False))) for cfg in configs}
            assert seen == {True, False}, f"{qualname}.{flag} runs only as {seen}"


def test_representative_values_appear():
    def cases_of(name):
        return [c.config for c in CASES if c.optimizer == f"mindspore.nn.{name}"]

    assert any(cfg["dampening"] > 0 for cfg in cases_of("SGD"))
    for name in ("Momentum", "SGD", "Adam"):
        assert any(cfg["loss_scale"] != 1.0 for cfg in cases_of(name)), name
    for name in ("Momentum", "SGD", "ASGD", "Adam", "AdamWeightDecay"):
        decays = [cfg["weight_decay"] for cfg in cases_of(name)]
        assert 0.0 in decays and any(isinstance(w, float) and w > 0 for w in decays), name
    groupings = [c.config["params"] for c in CASES if isinstance(c.config.get("params"), list)]
    assert any(any("order_params" in g for g in p) and any(g.get("grad_centralization") for g in p)
               for p in groupings)


def test_every_mindspore_schedule_class_and_lr_form_appears():
    used: set[str] = set()

    def collect(value):
        if isinstance(value, dict):
            if "schedule" in value:
                used.add(value["schedule"])
            for v in value.values():
                collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)

    for case in CASES:
        collect(case.config)
    mindspore_kinds = {k for k in schedule_registry if k.startswith("mindspore.nn.")}
    assert mindspore_kinds <= used
    assert any(isinstance(c.config["learning_rate"], list) for c in CASES)
    assert any(isinstance(c.config["weight_decay"], dict) for c in CASES)


def test_centralization_is_exercised_on_an_eligible_tensor():
    gc_cases = [c for c in CASES if c.layout == "tiny" and isinstance(c.config["params"], list)
                and any(g.get("grad_centralization") for g in c.config["params"])]
    assert gc_cases
    eligible = [n for n, shape in layouts.get_layout("tiny") if len(shape) >= 2 and shape[1] % 16 == 0]
    assert eligible
    group = next(g for g in gc_cases[0].config["params"] if g.get("grad_centralization"))
    assert set(eligible) <= set(group["params"])


def test_case_configs_are_json_and_round_trip():
    for case in CASES:
        data = json.loads(json.dumps(case.to_json()))
        assert data["id"] == case.id
        assert data["config"]["conform"] == {"layout": case.layout, "steps": case.steps, "seed": case.seed}
        rebuilt = case_from_config(data["config"], name=case.id)
        assert (rebuilt.config, rebuilt.layout, rebuilt.steps, rebuilt.seed) == (
            case.config, case.layout, case.steps, case.seed)
        assert optbridge.to_dict(optbridge.from_dict(case.config)) == dict(case.config)


def test_xfail_data_names_existing_cases():
    ids = {c.id for c in CASES}
    for case_id, entries in cases_module._load_xfails().items():
        assert case_id in ids, f"data/xfails.json: unknown case {case_id!r}"
        assert all(reason.strip() for reason in entries.values()), case_id


def test_tolerance_table_is_the_design_rule_and_every_loosening_is_cited():
    default = tolerance_for(CASES[0].id, "numpy", "float64")
    assert (default.float64_rel, default.float32_factor, default.float32_ulps) == (1e-12, 2.0, 4.0)
    ids = [c.id for c in CASES]
    for entry in TOLERANCES:
        assert entry.measured.strip(), entry
        assert any(fnmatch.fnmatchcase(i, entry.case) for i in ids), entry.case


# -- the runner's verdicts ------------------------------------------------------------------
def test_strict_xfail_reports_a_passing_case():
    case = dataclasses.replace(CASES[0], xfails={"fake": "kernel not written yet"})
    result = run_case(case, numpy_clone(), "float32")
    assert result.status == "error" and not result.ok
    assert result.reason.startswith("XPASS(strict)")
    assert "kernel not written yet" in result.reason


def test_xfail_for_one_dtype_only():
    case = dataclasses.replace(CASES[0], xfails={"fake:float32": "float32 differs"})
    assert run_case(case, numpy_clone(), "float32").status == "error"
    assert run_case(case, numpy_clone(), "float64").status == "passed"


def test_caller_supplied_xfails_are_strict_too():
    results = run_suite([numpy_clone()], [CASES[0]], ("float64",), xfails={CASES[0].id: "listed"})
    assert [r.status for r in results] == ["error"]


DELTA = 1e-6


class _PerturbingOptimizer:
    """Steps correctly, but after step index 3 nudges ``fc.bias[0]`` by :data:`DELTA`."""

    def __init__(self, inner, params):
        self.inner, self.params = inner, params

    def step(self, grads):
        self.inner.step(grads)
        if self.inner.global_step == 4:
            self.params["fc.bias"][0] += DELTA

    def state_dict(self):
        return self.inner.state_dict()


def _perturbing_backend() -> optbridge.plugin.Backend:
    numpy_backend = get_backend("numpy")
    return numpy_clone("perturbing", build=lambda spec, params, kernels: _PerturbingOptimizer(
        numpy_backend.build(spec, params, kernels), params))


def test_failure_names_first_step_tensor_deviation_and_versions():
    case = case_by_prefix("mindspore.Momentum-default-groups_none")
    result = run_case(case, _perturbing_backend(), "float64")
    assert result.status == "failed"
    failure = result.failure
    assert (failure.step, failure.tensor, failure.slot) == (3, "fc.bias", None)
    layout = layouts.get_layout(case.layout)
    params = streams.initial_params(layout, case.seed)
    opt = optbridge.build(optbridge.from_dict(case.config), params, backend="numpy")
    for step in range(4):
        opt.step(streams.gradients(layout, step, case.seed))
    expected = DELTA / np.abs(params["fc.bias"]).max()
    assert failure.deviation == pytest.approx(expected, rel=1e-6)
    repro = json.loads(json.dumps(result.reproducer()))
    assert repro["first_failure"]["step"] == 3 and repro["first_failure"]["parameter"] == "fc.bias"
    assert repro["config"]["conform"] == {"layout": case.layout, "steps": case.steps, "seed": case.seed}
    assert optbridge.from_dict(repro["config"]) == optbridge.from_dict(case.config)
    assert repro["versions"]["numpy"] == np.__version__
    assert repro["versions"]["optbridge"] == optbridge.__version__
    assert repro["versions"]["backend"].startswith("perturbing")
    text = result.describe()
    assert "step 3" in text and "'fc.bias'" in text and "reproducer" in text


def test_float32_failure_beyond_the_allowance():
    case = case_by_prefix("mindspore.Momentum-default-groups_none")
    assert run_case(case, _perturbing_backend(), "float32").status == "failed"


def test_listed_failure_is_xfailed():
    case = dataclasses.replace(case_by_prefix("mindspore.Momentum-default-groups_none"),
                               xfails={"perturbing": "known nudge"})
    result = run_case(case, _perturbing_backend(), "float64")
    assert result.status == "xfailed" and result.ok
    assert result.failure.step == 3


def test_missing_kernel_fails_unless_declared_unsupported():
    case = CASES[0]
    algorithm = case.algorithm
    rules = get_backend("numpy").ops
    kernels = {k: (lambda alg, *args: alg.update(rules, *args)) for k in algorithm_registry if k != algorithm}
    failed = run_case(case, numpy_clone(ops=None, kernels=kernels), "float32")
    assert failed.status == "failed"
    assert f"no kernel for algorithm {algorithm!r}" in failed.reason
    declared = numpy_clone(kernels={}, unsupported={algorithm: "needs a fused op"})
    skipped = run_case(case, declared, "float32")
    assert skipped.status == "skipped" and skipped.ok
    assert "needs a fused op" in skipped.reason


def test_missing_dtype_is_skipped_and_missing_hooks_fail():
    assert run_case(CASES[0], numpy_clone(dtypes=("float32",)), "float64").status == "skipped"
    result = run_case(CASES[0], numpy_clone(to_numpy=None), "float32")
    assert result.status == "failed" and "to_numpy" in result.reason


def test_backend_exceptions_fail_the_case():
    def broken_read(params):
        raise RuntimeError("device lost")

    result = run_case(CASES[0], numpy_clone(to_numpy=broken_read), "float32")
    assert result.status == "failed"
    assert result.failure.step == 0
    assert "reading the parameters after step 0 raised RuntimeError: device lost" in result.reason


def test_reference_error_is_reported_as_error():
    config = dict(CASES[0].config)
    config["learning_rate"] = [0.01, 0.01]
    case = CaseInfo(id="short-list", config=config, layout="guide", steps=7)
    result = run_case(case, "numpy", "float64")
    assert result.status == "error"
    assert "ScheduleExhaustedError" in result.reason and "step 2" in result.reason


def test_run_suite_and_table_count_results():
    selected = [c for c in CASES if c.optimizer == "mindspore.nn.ASGD"]
    results = run_suite(["numpy"], selected, ("float32", "float64"))
    assert len(results) == 2 * len(selected)
    rows = summarize(results)
    assert [(r.backend, r.dtype, r.cases, r.counts["passed"]) for r in rows] == [
        ("numpy", "float32", len(selected), len(selected)), ("numpy", "float64", len(selected), len(selected))]
    table = format_table(results)
    assert "numpy" in table and "100.00%" in table
    assert "Failures" not in format_report(results)


def test_guide_example_is_the_reference_guides_grouping():
    config = GUIDE_EXAMPLE.config
    assert config["optimizer"] == "mindspore.nn.Momentum"
    groups = config["params"]
    assert groups[0] == {"order_params": [n for n, _ in layouts.get_layout("guide")]}
    conv = groups[1]
    assert conv["lr"] == nn.cosine_decay_lr(0.0, 1e-3, total_step=1000, step_per_epoch=100, decay_epoch=10)
    assert (conv["weight_decay"], conv["grad_centralization"]) == (1e-4, True)
    assert (groups[2]["weight_decay"], groups[2]["lr"]) == (0.0, 1e-4)
    assert (groups[3]["weight_decay"], groups[3]["lr"]) == (1e-5, 1e-3)


# -- compare.py -------------------------------------------------------------------------------
def _steps_away(values: np.ndarray, k: int) -> np.ndarray:
    out = values.copy()
    for _ in range(k):
        out = np.nextafter(out, np.array(np.inf, dtype=values.dtype))
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ulp_distance_counts_representable_values(dtype):
    a = np.array([1.0, -2.5, 1e-30, 0.0], dtype=dtype)
    assert compare.ulp_distance(a, _steps_away(a, 5)) == 5
    tiny = np.array([np.nextafter(0, 1, dtype=dtype)])
    assert compare.ulp_distance(tiny, -tiny) == 2
    assert compare.ulp_distance(np.array([0.0], dtype), np.array([-0.0], dtype)) == 0
    assert compare.ulp_distance(np.array([np.nan], dtype), np.array([np.nan], dtype)) == 0
    assert compare.ulp_distance(np.array([np.nan], dtype), np.array([1.0], dtype)) == np.inf


def test_bitwise_equal_count_tells_signed_zeros_apart():
    a = np.array([1.0, 0.0, 3.0], dtype=np.float32)
    b = np.array([1.0, -0.0, 3.0], dtype=np.float32)
    assert compare.bitwise_equal_count(a, b) == 2
    assert compare.bitwise_equal_count(a, a.astype(np.float64)) == 0


def test_relative_and_ulp_deviation_are_per_tensor():
    ref = np.array([2.0, -0.5, 1e-9])
    x = ref + np.array([0.5, 0.0, 1e-9])
    assert compare.relative_deviation(x, ref) == 0.5 / 2.0
    assert compare.relative_deviation(ref, ref) == 0.0
    x32 = (ref + 3 * 2.0 ** -22).astype(np.float32)
    expected = np.abs(x32.astype(np.float64) - ref).max() / 2.0 ** -22
    assert compare.ulps_from_reference(x32, ref, "float32") == expected


def test_float32_rule_allows_twice_numpys_deviation_plus_four_ulps():
    ref64 = np.array([1.5, -1.0, 0.25])
    ulp = 2.0 ** -23
    numpy32 = (ref64 + np.array([3 * ulp, 0, 0])).astype(np.float32)
    for k, passes in ((10, True), (11, False)):
        got = (ref64 + np.array([k * ulp, 0, 0])).astype(np.float32)
        check = compare.check_tensor(got, ref64, numpy32, "float32", optbridge.conformance.DEFAULT,
                                     step=0, tensor="w")
        assert check.deviation == k and check.limit == 2 * 3 + 4
        assert check.passed is passes


def test_float64_rule_and_structural_mismatch():
    ref = np.array([1.0, 2.0])
    def check(got):
        return compare.check_tensor(got, ref, ref, "float64", optbridge.conformance.DEFAULT, step=0, tensor="w")

    assert check(ref * (1 + 4e-13)).passed and not check(ref * (1 + 4e-12)).passed
    wrong = check(ref[:1])
    assert not wrong.passed and "shape" in wrong.problem


# -- error inputs ------------------------------------------------------------------------------
def test_error_input_detects_a_step_that_changes_parameters_before_failing():
    numpy_backend = get_backend("numpy")

    class Careless:
        def __init__(self, inner, params):
            self.inner, self.params = inner, params

        def step(self, grads):
            self.params["conv1.weight"][...] += 1.0
            self.inner.step(grads)

        def state_dict(self):
            return self.inner.state_dict()

    careless = numpy_clone("careless", build=lambda s, p, k: Careless(numpy_backend.build(s, p, k), p))
    record = next(r for r in ERROR_INPUTS if r.id == "momentum-step_grad_shape")
    with pytest.raises(ErrorInputMismatch, match="changed"):
        check_error_input(dataclasses.replace(record, steps_before=0), careless)


def test_error_input_wrong_exception_and_strict_xpass():
    record = next(r for r in ERROR_INPUTS if r.id == "momentum-momentum_int")
    with pytest.raises(ErrorInputMismatch, match="expected SpecValueError"):
        check_error_input(dataclasses.replace(record, error_type=optbridge.errors.SpecValueError), "numpy")
    with pytest.raises(ErrorInputMismatch, match="message lacks"):
        check_error_input(dataclasses.replace(record, message="no such words"), "numpy")
    with pytest.raises(ErrorInputMismatch, match=r"XPASS\(strict\)"):
        check_error_input(dataclasses.replace(record, xfails={"numpy": "listed"}), "numpy")
    listed = dataclasses.replace(record, message="x", xfails={"numpy": "known"})
    assert check_error_input(listed, "numpy").status == "xfailed"


def _in_place_backend() -> optbridge.plugin.Backend:
    """The NumPy backend with torch's gradient contract: ``grads_from_numpy`` attaches each
    gradient to its parameter (in the parameter's dtype) and returns ``None``; ``step``
    takes no gradients and reads what is attached."""
    numpy_backend = get_backend("numpy")
    attached: dict[int, np.ndarray] = {}

    def grads_from_numpy(grads, params):
        for name, g in grads.items():
            attached[id(params[name])] = np.asarray(g, dtype=params[name].dtype)
        return None

    class ReadsAttached:
        def __init__(self, inner, params):
            self.inner, self.params = inner, params

        def step(self, grads):
            assert grads is None, "an in-place backend's step takes no gradients"
            self.inner.step({k: attached[id(p)] for k, p in self.params.items() if id(p) in attached})

        def state_dict(self):
            return self.inner.state_dict()

    return numpy_clone("in-place", grads_from_numpy=grads_from_numpy,
                       build=lambda s, p, k: ReadsAttached(numpy_backend.build(s, p, k), p))


@pytest.mark.parametrize("record_id", ["adam-step_grad_dtype", "asgd-step_grad_dtype_float64"])
def test_gradient_dtype_records_on_a_backend_whose_hook_attaches_gradients_in_place(record_id):
    record = next(r for r in ERROR_INPUTS if r.id == record_id)
    check = check_error_input(record, _in_place_backend())
    assert check.status == "skipped"
    assert "attaches gradients in place" in check.reason and record.dtype in check.reason


def test_gradient_dtype_record_on_a_backend_without_the_other_dtype():
    record = next(r for r in ERROR_INPUTS if r.id == "adam-step_grad_dtype")
    check = check_error_input(record, numpy_clone("float32-only", dtypes=("float32",)))
    assert check.status == "skipped" and "lacks float64" in check.reason


def test_other_step_records_run_on_a_backend_whose_hook_attaches_gradients_in_place():
    backend = _in_place_backend()
    record = next(r for r in ERROR_INPUTS if r.id == "momentum-step_grad_shape")
    assert check_error_input(record, backend).status == "passed"


def test_duplicate_parameter_is_a_runtime_error():
    record = next(r for r in ERROR_INPUTS if r.id == "sgd-build_duplicate_parameter")
    assert isinstance(check_error_input(record, "numpy").exception, RuntimeError)


# -- configs with a conform table --------------------------------------------------------------
def test_config_accepts_and_ignores_a_conform_table():
    config = dict(CASES[0].config)
    with_table = {**config, "conform": {"layout": "tiny", "steps": 7}}
    assert optbridge.config.validate(with_table) is dialect_registry[config["optimizer"]]
    assert optbridge.from_dict(with_table) == optbridge.from_dict(config)


def test_case_from_config_merges_table_and_overrides():
    config = {**CASES[0].config, "conform": {"layout": [["w", [2, 3]], ["b", [3]]], "steps": 9, "seed": 4}}
    case = case_from_config(config, name="mine", seed=5)
    assert case.layout_shapes == (("w", (2, 3)), ("b", (3,)))
    assert (case.steps, case.seed, case.id) == (9, 5, "mine")
    assert "conform" not in case.config
    assert run_case(case, "numpy", "float32").status == "passed"


@pytest.mark.parametrize("table,path", [
    ({"stepz": 3}, "conform.stepz"),
    ({"steps": 0}, "conform.steps"),
    ({"seed": -1}, "conform.seed"),
    ({"layout": "lenet"}, "conform.layout"),
    ({"layout": [["w", [2]], ["w", [3]]]}, "conform.layout[1]"),
    ({"layout": [["w", [2, "3"]]]}, "conform.layout[0][1][1]"),
    ("tiny", "conform"),
])
def test_bad_conform_tables_name_the_path(table, path):
    with pytest.raises(ConfigError, match=re.escape(path)):
        case_from_config({**CASES[0].config, "conform": table})
