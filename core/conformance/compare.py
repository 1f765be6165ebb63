"""Metrics between trajectories and the pass rule (DESIGN.md section 7).

Three runs meet here, all started from the same float64 initial parameters and fed the
same deterministic gradients (:mod:`optbridge.conformance.streams`):

* the backend under test, in the case's dtype;
* the NumPy reference in float64 — the truth every deviation is measured from;
* the NumPy reference in the case's dtype — bitwise equality and ulp distance are counted
  against it, and for float32 its own deviation from float64 sets the allowance.

:func:`check_tensor` compares one tensor (a parameter after one step, or one state slot
after the last step) and applies the rule of :mod:`optbridge.conformance.tolerances`;
:class:`Metrics` accumulates the numbers the report shows.

Deviations are measured per tensor against the tensor's magnitude ``max |ref|``
(normwise), not element by element: an element that happens to lie near zero carries a
large *relative* rounding error in any correct implementation (the update ``lr·u`` is
rounded on the grid of the operands, not of the small result), so elementwise relative
errors or ulp counts flag legitimate differences in rounding. Measured on the shipped
cases: a NumPy kernel that evaluates Adam's moments as ``β·m + (1−β)·g`` instead of the
canonical ``m + (g − m)·(1−β)`` deviates from the float64 run by up to 12.5 float32 ulps
elementwise (NumPy's own float32 run: 3.5) but by less than 1 ulp at the tensor's
magnitude; a kernel with a real formula difference (dampening applied on the first step)
deviates by about 10⁵ ulps either way. :func:`ulp_distance` and
:func:`bitwise_equal_count` give the exact elementwise counts alongside.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .tolerances import Tolerance

__all__ = [
    "max_abs_deviation",
    "relative_deviation",
    "ulps_from_reference",
    "ulp_distance",
    "bitwise_equal_count",
    "TensorCheck",
    "Metrics",
    "check_tensor",
]

_TINY = np.finfo(np.float64).tiny
_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}
_INT: dict[int, type[np.signedinteger[Any]]] = {2: np.int16, 4: np.int32, 8: np.int64}


def _nan_aware(dev: np.ndarray, x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """NaN where exactly one side is NaN becomes ``inf``; NaN on both sides counts as equal."""
    xn, rn = np.isnan(x), np.isnan(ref)
    if xn.any() or rn.any():
        dev = np.where(xn & rn, 0.0, np.where(xn | rn, np.inf, dev))
    return dev


def max_abs_deviation(x: np.ndarray, ref: np.ndarray) -> float:
    """Largest ``|x − ref|`` in float64 (NaN on one side only counts as ``inf``)."""
    x64 = np.asarray(x, dtype=np.float64)
    r64 = np.asarray(ref, dtype=np.float64)
    if not r64.size:
        return 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        dev = np.where(x64 == r64, 0.0, np.abs(x64 - r64))
    return float(_nan_aware(dev, x64, r64).max())


def _scale(ref: np.ndarray) -> float:
    """Largest finite ``|ref|``, the tensor's magnitude."""
    r64 = np.abs(np.asarray(ref, dtype=np.float64))
    finite = r64[np.isfinite(r64)]
    return float(finite.max()) if finite.size else 0.0


def relative_deviation(x: np.ndarray, ref: np.ndarray) -> float:
    """Normwise relative deviation of a tensor: ``max |x − ref| / max |ref|``.

    Measured against the tensor's magnitude rather than element by element, so an
    element that happens to lie near zero (where any rounding is a large relative
    error) does not dominate. ``max |ref|`` is floored at the smallest normal float64.
    """
    return max_abs_deviation(x, ref) / max(_scale(ref), _TINY)


def ulps_from_reference(x: np.ndarray, ref64: np.ndarray, dtype: str = "float32") -> float:
    """``max |x − ref|`` in ulps of ``dtype`` at the tensor's magnitude ``max |ref|``.

    How far a low-precision result lies from the float64 truth, counted on the
    low-precision grid at the scale of the tensor (a correctly rounded largest element is
    within 0.5).
    """
    ulp = float(np.spacing(np.asarray(_scale(ref64), dtype=dtype)))
    return max_abs_deviation(x, ref64) / ulp


def _ordered(a: np.ndarray) -> np.ndarray:
    """Map float bit patterns to integers that are ordered like the floats (±0 coincide)."""
    size = a.dtype.itemsize
    bits = a.view(_INT[size]).astype(np.int64)
    lowest = np.int64(np.iinfo(_INT[size]).min)
    return np.where(bits < 0, lowest - bits, bits)


def ulp_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Largest number of representable values between ``a`` and ``b`` elementwise.

    Both arrays must have the same floating dtype; 0 means equal values (``-0.0 == 0.0``).
    NaN on both sides counts as equal, on one side as ``inf``.
    """
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    if a.dtype != b.dtype:
        raise ValueError(f"ulp_distance needs one dtype, got {a.dtype} and {b.dtype}")
    if not a.size:
        return 0.0
    ka, kb = _ordered(a), _ordered(b)
    with np.errstate(over="ignore"):
        same_sign = (ka >= 0) == (kb >= 0)
        dist = np.where(
            same_sign,
            np.abs(ka - kb).astype(np.float64),
            np.abs(ka.astype(np.float64)) + np.abs(kb.astype(np.float64)),
        )
    return float(_nan_aware(dist, a, b).max())


def bitwise_equal_count(a: np.ndarray, b: np.ndarray) -> int:
    """How many elements have identical bits (0 if the dtypes or shapes differ)."""
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return 0
    unsigned = _UINT[a.dtype.itemsize]
    return int(np.count_nonzero(a.view(unsigned) == b.view(unsigned)))


@dataclass(frozen=True)
class TensorCheck:
    """One tensor compared at one point of the trajectory.

    Attributes:
        step: 0-based step after which the tensor was read.
        tensor: parameter name.
        slot: state slot name, or ``None`` for the parameter itself.
        size: number of elements.
        rel_dev: normwise relative deviation from the NumPy float64 run.
        ulps: ``max |x − n|`` from the NumPy run ``n`` of the same dtype, in ulps at the
            tensor's magnitude.
        ulp_distance: largest elementwise ulp distance from that run (exact count of
            representable values in between; large near zero).
        bitwise_equal: elements bitwise equal to the NumPy run of the same dtype.
        deviation: the quantity the rule bounds (``rel_dev`` for float64; for float32 the
            deviation from the float64 run in float32 ulps at the tensor's magnitude).
        limit: the bound it must not exceed.
        measure: what ``deviation`` is, in words.
        problem: a structural mismatch (shape, dtype), empty if none.
    """

    step: int
    tensor: str
    slot: str | None
    size: int
    rel_dev: float
    ulps: float
    ulp_distance: float
    bitwise_equal: int
    deviation: float
    limit: float
    measure: str
    problem: str = ""

    @property
    def passed(self) -> bool:
        return not self.problem and self.deviation <= self.limit

    @property
    def where(self) -> str:
        """``'fc.weight'`` or ``'fc.weight' slot 'exp_avg'``."""
        return f"{self.tensor!r}" + ("" if self.slot is None else f" slot {self.slot!r}")


def check_tensor(
    got: np.ndarray,
    ref64: np.ndarray,
    ref_same: np.ndarray,
    dtype: str,
    tolerance: Tolerance,
    *,
    step: int,
    tensor: str,
    slot: str | None = None,
) -> TensorCheck:
    """Compare one tensor of the backend run with the NumPy runs and apply the pass rule.

    Args:
        got: the backend's values (read back as NumPy).
        ref64: the NumPy float64 run's values.
        ref_same: the NumPy run's values in ``dtype`` (``ref64`` itself for float64).
        dtype: the case's dtype.
        tolerance: the rule's numbers for this case.
        step, tensor, slot: where the values come from, for the report.
    """
    got = np.asarray(got)
    if got.shape != ref64.shape or got.dtype != np.dtype(dtype):
        problem = (f"expected {dtype} of shape {ref64.shape}, the backend gave "
                   f"{got.dtype} of shape {got.shape}")
        inf = float("inf")
        return TensorCheck(step, tensor, slot, int(ref64.size), inf, inf, inf, 0, inf, 0.0, "shape and dtype", problem)
    equal = bitwise_equal_count(got, ref_same)
    identical = equal == got.size
    ulps = 0.0 if identical else ulps_from_reference(got, ref_same, dtype)
    distance = 0.0 if identical else ulp_distance(got, ref_same)
    scale = _scale(ref64)
    if dtype == "float64":
        rel = 0.0 if identical and ref_same is ref64 else max_abs_deviation(got, ref64) / max(scale, _TINY)
        deviation, limit = rel, tolerance.float64_rel
        measure = "relative deviation from NumPy float64"
    else:
        ulp = float(np.spacing(np.asarray(scale, dtype=dtype)))
        own = max_abs_deviation(ref_same, ref64)
        dev = own if identical else max_abs_deviation(got, ref64)
        rel = dev / max(scale, _TINY)
        deviation, allowance = dev / ulp, own / ulp
        limit = tolerance.float32_factor * allowance + tolerance.float32_ulps
        measure = f"{dtype} ulps from NumPy float64 at the tensor's magnitude (NumPy {dtype}: {allowance:.3g})"
    return TensorCheck(step, tensor, slot, int(got.size), rel, ulps, distance, equal, deviation, limit, measure)


@dataclass
class Metrics:
    """Running totals over many :class:`TensorCheck` s (one run, or a whole table row)."""

    max_rel_dev: float = 0.0
    max_ulps: float = 0.0
    max_ulp_distance: float = 0.0
    bitwise_equal: int = 0
    elements: int = 0

    def add(self, check: TensorCheck) -> None:
        """Fold one check into the totals."""
        self.max_rel_dev = max(self.max_rel_dev, check.rel_dev)
        self.max_ulps = max(self.max_ulps, check.ulps)
        self.max_ulp_distance = max(self.max_ulp_distance, check.ulp_distance)
        self.bitwise_equal += check.bitwise_equal
        self.elements += check.size

    def merge(self, other: Metrics) -> None:
        """Fold another total into this one."""
        self.max_rel_dev = max(self.max_rel_dev, other.max_rel_dev)
        self.max_ulps = max(self.max_ulps, other.max_ulps)
        self.max_ulp_distance = max(self.max_ulp_distance, other.max_ulp_distance)
        self.bitwise_equal += other.bitwise_equal
        self.elements += other.elements

    @property
    def bitwise_share(self) -> float:
        """Share of compared elements bitwise equal to the NumPy run (1.0 when none compared)."""
        return self.bitwise_equal / self.elements if self.elements else 1.0
