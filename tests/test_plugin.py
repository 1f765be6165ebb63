"""The plugin door: entry points, broken plugins reported by name, OPTBRIDGE_PLUGINS.

Third-party plugins are installed for real: each test writes modules and a ``dist-info``
with ``entry_points.txt`` into a temporary directory on ``PYTHONPATH`` of a fresh
interpreter, exactly what ``pip install`` of a plugin distribution leaves behind.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

PLUGINS = {
    "ob_broken_import": "raise ImportError('this plugin is broken on purpose')\n",
    "ob_wrong_hook": textwrap.dedent("""
        from optbridge.plugin import hookimpl

        @hookimpl
        def optbridge_backendz():
            return []
    """),
    "ob_raising": textwrap.dedent("""
        from optbridge.plugin import hookimpl

        @hookimpl
        def optbridge_backends():
            raise RuntimeError('backend discovery exploded')
    """),
    "ob_sign_sgd": textwrap.dedent("""
        from dataclasses import dataclass
        import numpy as np
        from optbridge.algorithms.base import Algorithm
        from optbridge.plugin import hookimpl

        @dataclass(frozen=True)
        class SignSGD(Algorithm):
            name = "sign_sgd"

        def sign_sgd_kernel(alg, params, grads, slots, scalars):
            for p, g in zip(params, grads):
                p -= p.dtype.type(scalars["lr"]) * np.sign(g)

        @hookimpl
        def optbridge_algorithms():
            return [SignSGD]

        @hookimpl
        def optbridge_kernels(backend):
            return {"sign_sgd": sign_sgd_kernel} if backend == "numpy" else {}
    """),
    "ob_bag": textwrap.dedent("""
        from optbridge.plugin import Backend, hookimpl
        from optbridge.schedules import Schedule

        class ArrayBag:
            def __init__(self, **arrays):
                self.arrays = arrays

        class HalfLife(Schedule):
            kind = "test.HalfLife"
            def __init__(self, start=1.0):
                self.start = start
            def value(self, step):
                return self.start * 0.5 ** step
            def get_config(self):
                return {"start": self.start}

        def build(spec, params, kernels):
            from optbridge.backends.numpy import NumpyOptimizer
            return NumpyOptimizer(spec, params.arrays, kernels=kernels)

        @hookimpl
        def optbridge_backends():
            from optbridge.backends.numpy import ops
            return [Backend(name="bag", build=build, ops=ops)]

        @hookimpl
        def optbridge_detect_backend(params):
            return "bag" if isinstance(params, ArrayBag) else None

        @hookimpl
        def optbridge_schedules():
            return [HalfLife]
    """),
    "ob_adapter": textwrap.dedent("""
        from optbridge.plugin import hookimpl

        def fake_keras(spec, **options):
            return ["fake keras", type(spec).__name__, options]

        @hookimpl
        def optbridge_adapters():
            return {"keras": fake_keras}
    """),
}

ENTRY_POINTS = {
    "broken-import": "ob_broken_import",
    "wrong-hook": "ob_wrong_hook",
    "raising": "ob_raising",
    "sign-sgd": "ob_sign_sgd",
    "bag": "ob_bag",
    "adapter": "ob_adapter",
}

PROBE = textwrap.dedent("""
    import json, numpy as np, optbridge
    from optbridge.plugin import backends, broken_plugins
    from optbridge.spec import OptimizerSpec
    from optbridge.schedules import Constant
    from optbridge.algorithms import algorithm_registry
    from optbridge.dialects.mindspore import nn
    out = {"backends": sorted(backends()),
           "broken": sorted((f.plugin, f.stage) for f in broken_plugins()),
           "errors": {f.plugin: f.error for f in broken_plugins()}}
    p = {"w": np.ones(3, np.float32)}
    optbridge.build(nn.SGD(None, 0.5), p).step({"w": np.ones(3, np.float32)})
    out["numpy_works"] = p["w"].tolist() == [0.5, 0.5, 0.5]
    if "sign_sgd" in algorithm_registry:
        q = {"w": np.zeros(3, np.float32)}
        spec = OptimizerSpec(algorithm=algorithm_registry["sign_sgd"](), lr=Constant(0.25))
        optbridge.build(spec, q).step({"w": np.array([2.0, -3.0, 0.0], np.float32)})
        out["sign_sgd"] = q["w"].tolist()
    if "bag" in out["backends"]:
        from ob_bag import ArrayBag
        bag = ArrayBag(w=np.ones(2, np.float64))
        config = {"format_version": 1, "optimizer": "mindspore.nn.SGD",
                  "learning_rate": {"schedule": "test.HalfLife", "start": 0.5}}
        opt = optbridge.build(optbridge.from_dict(config), bag)
        for _ in range(2):
            opt.step({"w": np.ones(2, np.float64)})
        out["bag"] = [type(opt).__name__, bag.arrays["w"].tolist()]
    print(json.dumps(out))
""")

ADAPTER_PROBE = textwrap.dedent("""
    import json, os, sys, optbridge
    from optbridge.dialects.mindspore import nn
    from optbridge.plugin import backends, broken_plugins, get_plugin_manager
    backends()
    out = {"adapters": sorted(name for provided in get_plugin_manager().hook.optbridge_adapters() for name in provided),
           "tensorflow_imported": "tensorflow" in sys.modules}
    if os.environ.get("PROBE_KERAS") == "1":
        try:
            out["keras"] = optbridge.keras(nn.SGD(None, 0.5), jit_compile=False)
        except optbridge.OptbridgeError as exc:
            out["error"] = [type(exc).__name__, str(exc)]
    out["broken"] = sorted(f.plugin for f in broken_plugins())
    print(json.dumps(out))
""")


@pytest.fixture
def plugin_dir(tmp_path):
    for module, source in PLUGINS.items():
        (tmp_path / f"{module}.py").write_text(source)
    dist = tmp_path / "ob_test_plugins-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ob-test-plugins\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text(
        "[optbridge]\n" + "".join(f"{name} = {module}\n" for name, module in ENTRY_POINTS.items())
    )
    return tmp_path


def probe(plugin_dir, only=None, script=PROBE, **environ):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(plugin_dir), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("OPTBRIDGE_PLUGINS", None)
    if only is not None:
        env["OPTBRIDGE_PLUGINS"] = only
    env.update(environ)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_broken_plugins_are_reported_by_name_and_skipped(plugin_dir):
    out = probe(plugin_dir)
    assert {"bag", "numpy"} <= set(out["backends"])
    assert not {"broken-import", "raising", "wrong-hook"} & set(out["backends"])
    assert out["broken"] == [["broken-import", "import"], ["raising", "optbridge_backends"],
                             ["wrong-hook", "register"]]
    assert "broken on purpose" in out["errors"]["broken-import"]
    assert "optbridge_backendz" in out["errors"]["wrong-hook"]
    assert "exploded" in out["errors"]["raising"]
    assert out["numpy_works"]


def test_plugins_add_algorithms_and_kernels(plugin_dir):
    out = probe(plugin_dir)
    assert out["sign_sgd"] == [-0.25, 0.25, 0.0]


def test_plugins_add_backends_detection_and_schedules(plugin_dir):
    out = probe(plugin_dir)
    assert out["bag"] == ["NumpyOptimizer", [1.0 - 0.5 - 0.25] * 2]


def test_environment_variable_restricts_plugins(plugin_dir):
    out = probe(plugin_dir, only="numpy")
    assert out["backends"] == ["numpy"]
    assert out["broken"] == []
    assert "sign_sgd" not in out
    out = probe(plugin_dir, only="numpy, sign-sgd")
    assert out["broken"] == [] and out["sign_sgd"] == [-0.25, 0.25, 0.0]


def test_plugins_provide_adapters_for_optbridge_keras(plugin_dir):
    out = probe(plugin_dir, only="numpy, adapter", script=ADAPTER_PROBE, PROBE_KERAS="1")
    assert out["adapters"] == ["keras"] and out["broken"] == []
    assert out["keras"] == ["fake keras", "SGD", {"jit_compile": False}]
    out = probe(plugin_dir, only="numpy", script=ADAPTER_PROBE, PROBE_KERAS="1")
    assert out["adapters"] == []
    assert out["error"][0] == "BackendError" and "pip install optbridge[tensorflow]" in out["error"][1]


def test_the_tensorflow_backend_provides_keras_without_importing_tensorflow(plugin_dir):
    out = probe(plugin_dir, only="numpy, tensorflow", script=ADAPTER_PROBE)
    assert out["adapters"] == ["keras"]
    assert not out["tensorflow_imported"]


def test_builtin_numpy_backend_comes_through_the_entry_point():
    from importlib import metadata

    eps = {ep.name: ep.value for ep in metadata.entry_points(group="optbridge")}
    assert eps.get("numpy") == "optbridge.backends.numpy"


def test_unknown_backend_lists_installed_ones():
    import numpy as np

    import optbridge
    from optbridge.dialects.mindspore import nn

    with pytest.raises(optbridge.OptbridgeError, match=r"no backend named 'cuda9'.*Installed: \[.*'numpy'"):
        optbridge.build(nn.SGD(None), {"w": np.zeros(2)}, backend="cuda9")


def test_every_hookspec_is_documented_and_tested():
    import pathlib

    from optbridge.plugin import HookSpecs

    hooks = [n for n in dir(HookSpecs) if n.startswith("optbridge_")]
    assert hooks == ["optbridge_adapters", "optbridge_algorithms", "optbridge_backends", "optbridge_detect_backend",
                     "optbridge_kernels", "optbridge_schedules"]
    tests = pathlib.Path(__file__).read_text()
    docs = pathlib.Path(__file__).parents[1] / "docs" / "plugins.md"
    for hook in hooks:
        assert f"def {hook}(" in tests, hook
        if docs.exists():
            assert hook in docs.read_text(), f"{hook} is not in docs/plugins.md"


def test_backend_listing_survives_loading_the_backends_package():
    import optbridge

    first = optbridge.plugin.backends()
    assert optbridge.plugin.backends() is first
    assert optbridge.backends.__name__ == "optbridge.backends"
