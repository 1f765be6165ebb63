"""Compiled host-side scans over a parameter list: gradient gathering and the flat-mode check.

Before an update the torch optimizer reads every parameter's ``.grad`` and checks it
(present, dense, the parameter's shape, dtype and device), and in flat mode it checks
that no parameter's ``.data`` or ``.grad`` was replaced. In Python each of those reads
makes an object (``torch.Size``, ``torch.device``, a bound method), about 0.7 µs per
parameter: 1.4 ms on 2,000 tensors in cache, 2.3 ms out of it, as long as the fused SGD
kernel itself. The two functions of ``optbridge_torch_hostscan.cpp`` do the same reads on
the tensors' C++ fields in one loop (``dense_grads`` on 2,000 parameters: 65 µs in
cache, 0.26 ms out of it):

* ``dense_grads(params, accepted)``: the gradients, or ``None`` unless every one is
  present and matches its parameter — then the optimizer's Python path sorts out which
  are missing and raises for the wrong ones, with their names;
* ``flat_intact(params, views, param_ptrs, grad_ptrs, accepted)``: whether every flat
  parameter and gradient view is where flat mode put it (see :mod:`..flat`).

Both read only tensors whose type is exactly ``torch.Tensor`` or ``torch.nn.Parameter``
(:data:`ACCEPTED`) and answer "not the fast case" for anything else.

The module is built with torch's headers on first use (about 15 s, after a logged notice;
``python -m optbridge.backends.torch.hostscan`` builds it ahead of time) and cached like
every optbridge library (:mod:`optbridge.native_build`: keyed by the source, the torch
version and the compiler; loaded only from a directory and a file that only the current
user or root can write, with the SHA-256 recorded at its build). It is built at run time,
not at install time, because it links to torch's C++ symbols, which change between torch
releases. ``OPTBRIDGE_TORCH_HOSTSCAN=0`` switches it off; without a compiler, when the
build fails, or when the cached file fails a check, :func:`load` returns ``None`` after
one warning that says why and the optimizer does the same scans in Python (same answers,
slower).
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import sysconfig
from pathlib import Path
from typing import Any

import torch

from optbridge import native_build

__all__ = ["SOURCE", "ENV_SWITCH", "ACCEPTED", "LIBRARY", "enabled", "load", "build_error"]

SOURCE = Path(__file__).with_name("optbridge_torch_hostscan.cpp")
ENV_SWITCH = "OPTBRIDGE_TORCH_HOSTSCAN"
#: The tensor types the scans read (no ``__torch_function__`` override between them and C++).
ACCEPTED = (torch.Tensor, torch.nn.Parameter)
_FLAGS = ("-shared", "-fPIC", "-O2", "-std=c++20", "-w")


def _command(cxx: str, out: str) -> list[str]:
    """The compiler line: torch's headers and libraries as ``torch.utils.cpp_extension`` finds
    them (``<torch>/include``, ``<torch>/include/torch/csrc/api/include``, ``<torch>/lib``),
    Python's headers, and torch's C++ ABI."""
    root = Path(torch.__file__).parent
    abi = f"-D_GLIBCXX_USE_CXX11_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}"
    includes = [root / "include", root / "include" / "torch" / "csrc" / "api" / "include",
                sysconfig.get_paths()["include"]]
    return [cxx, *_FLAGS, abi, *(f"-I{p}" for p in includes), "-o", out, str(SOURCE), f"-L{root / 'lib'}",
            "-lc10", "-ltorch_cpu", "-ltorch", "-ltorch_python"]


def _import(path: Path) -> Any:
    loader = importlib.machinery.ExtensionFileLoader("optbridge_torch_hostscan", str(path))
    spec = importlib.util.spec_from_file_location("optbridge_torch_hostscan", str(path), loader=loader)
    if spec is None:
        raise ImportError(f"cannot load the host scan extension from {path}")
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _locate() -> Path:
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    key = [torch.__version__, str(torch.version.git_version), str(torch._C._GLIBCXX_USE_CXX11_ABI)]
    return native_build.cached_build("torch-hostscan", SOURCE, "optbridge_torch_hostscan" + suffix, _FLAGS, key,
                                     _command, description="the torch host scans",
                                     prebuild_command="python -m optbridge.backends.torch.hostscan")


#: The compiled module, located (built and checked) and imported on first use.
LIBRARY = native_build.LazyLibrary("compiled torch host scans", ENV_SWITCH, "scanning in Python", _locate, _import)
#: Whether the compiled scans may be used (``OPTBRIDGE_TORCH_HOSTSCAN`` is not ``0``/``false``/``off``).
enabled = LIBRARY.enabled
#: Why the module is not available in this process (``None`` if it is, or was not tried).
build_error = LIBRARY.build_error
#: The compiled module (``dense_grads``, ``flat_intact``), or ``None``; builds it on first
#: use (see the module docstring).
load = LIBRARY.load
