"""``python -m optbridge.backends.tensorflow.native``: build, check and load the native
TensorFlow kernels now (an image's build step, a job's setup) and print where they are;
exit status 1 when they are unavailable, with the reason."""
from __future__ import annotations

import sys

from optbridge import native_build

from . import LIBRARY

sys.exit(native_build.prebuild(LIBRARY))
