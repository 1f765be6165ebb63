"""The GPU check: device tests with a GPU required, then both step benchmarks on the GPU.

Run on a machine with an NVIDIA GPU, CUDA builds of torch and TensorFlow, and optbridge
installed (``tox -e gpu`` installs them; on a machine without network access, run this
file with a Python that has them)::

    python benchmarks/gpu_check.py                 # tests, torch table, TensorFlow table
    python benchmarks/gpu_check.py --quick         # fewer repetitions and layouts (a few minutes)

1. ``pytest tests/test_devices.py`` with ``OPTBRIDGE_REQUIRE_GPU=1``: torch on
   ``cuda:N`` on the auto, reference and compiled (Triton) paths against the NumPy reference
   and ``torch.optim`` on the same device, state saved on the GPU resumed on the CPU, a
   ``capturable=True`` step in a CUDA graph; the
   TensorFlow backend's tape loops (eager and ``tf.function``) on ``/GPU:N`` against the
   NumPy reference, and Keras ``fit`` with XLA against ``fit`` without. A machine where
   either framework sees no GPU fails here instead of skipping.
2. ``benchmarks/torch_step.py --device cuda``: optbridge / fastest ``torch.optim`` ratios.
3. ``benchmarks/tensorflow_step.py --device /GPU:0``: optbridge / Keras ratios.

Each part runs in its own process, and a failing part does not stop the next; the exit
status is non-zero when any part failed. Never run by CI (CI machines have no GPU).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parts(quick: bool) -> list[tuple[str, list[str]]]:
    torch_args = ["--repeat", "5", "--layouts", "resnet50", "one"] if quick else ["--repeat", "20"]
    tf_args = ["--repeat", "3", "--layouts", "resnet50", "big"] if quick else ["--repeat", "10"]
    return [
        ("device tests", [sys.executable, "-m", "pytest", str(ROOT / "tests" / "test_devices.py"), "-q", "-rs",
                          "-p", "no:cacheprovider"]),
        ("torch step benchmark", [sys.executable, str(ROOT / "benchmarks" / "torch_step.py"), "--device", "cuda",
                                  *torch_args]),
        ("tensorflow step benchmark", [sys.executable, str(ROOT / "benchmarks" / "tensorflow_step.py"),
                                       "--device", "/GPU:0", *tf_args]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and layouts")
    args = parser.parse_args()
    env = dict(os.environ, OPTBRIDGE_REQUIRE_GPU="1", TF_CPP_MIN_LOG_LEVEL="2")
    failed = []
    for title, command in parts(args.quick):
        print(f"\n==== {title}: {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        code = subprocess.call(command, env=env, cwd=ROOT)
        print(f"==== {title}: exit {code} after {time.perf_counter() - started:.0f} s", flush=True)
        if code:
            failed.append(title)
    print(f"\nGPU check: {'failed: ' + ', '.join(failed) if failed else 'all parts passed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
