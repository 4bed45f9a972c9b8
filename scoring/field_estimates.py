"""Field precision and recall from a stratified sample of reviewed interactions (pure arithmetic).

The interaction is the sampling unit; occurrences are counted inside it. Stratum h has N_h
interactions of which r_h were reviewed, so each reviewed interaction weighs N_h / r_h. A
ratio such as recall = F / T (system-found true occurrences over all true occurrences) is
estimated as Σ w·f / Σ w·t. Its 95 % interval is a Wilson score interval around the estimate
with the effective sample size that the ratio's linearised (delta-method) stratified variance
implies, capped at the number of occurrences counted: for a simple random sample it is the
plain Wilson interval on the counts, and it never leaves [0, 1].
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

Z95 = 1.959963984540054


@dataclass(frozen=True)
class UnitCounts:
    """One reviewed interaction: its stratum (N_h = ``stratum_size``) and its numerator and denominator counts."""

    stratum: str
    stratum_size: int
    numerator: float  # e.g. true occurrences the system found
    denominator: float  # e.g. all true occurrences the review found


@dataclass(frozen=True)
class RatioEstimate:
    """An estimated proportion, its 95 % interval and the sample behind it.

    Attributes:
        n: occurrences counted (the denominator's raw sum), what "n = 212" reports.
        units: reviewed interactions (with or without occurrences).
        per_stratum: reviewed interactions per stratum.
    """

    value: float | None
    low: float | None
    high: float | None
    n: int
    units: int
    per_stratum: dict[str, int] = field(default_factory=dict)

    def label(self) -> str:
        """``0.87 (0.79–0.93, n = 212)``, or ``— (n = 0)``."""
        if self.value is None:
            return f"— (n = {self.n})"
        return f"{self.value:.2f} ({self.low:.2f}–{self.high:.2f}, n = {self.n})"


def wilson_interval(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n`` (n may be an effective, non-integer size).

    Raises:
        ValueError: n not positive or successes outside 0..n.
    """
    if n <= 0 or successes < 0 or successes > n + 1e-9:
        raise ValueError(f"wilson_interval({successes}, {n}): need 0 <= successes <= n and n > 0")
    p = min(1.0, successes / n)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _stratified_variance(groups: dict[str, list[UnitCounts]], ratio: float) -> float:
    """Linearised variance of Σ w·(y − R·x) with the finite-population correction per stratum."""
    total = 0.0
    for units in groups.values():
        r_h = len(units)
        n_h = max(units[0].stratum_size, r_h)
        if r_h < 2:
            continue  # one reviewed unit: no within-stratum spread to measure
        z = [u.numerator - ratio * u.denominator for u in units]
        mean = sum(z) / r_h
        s2 = sum((v - mean) ** 2 for v in z) / (r_h - 1)
        total += n_h * n_h * (1 - r_h / n_h) * s2 / r_h
    return total


def ratio_estimate(units: list[UnitCounts], z: float = Z95) -> RatioEstimate:
    """The weighted ratio Σ w·numerator / Σ w·denominator with its interval (see the module docstring)."""
    groups: dict[str, list[UnitCounts]] = defaultdict(list)
    for u in units:
        groups[u.stratum].append(u)
    per_stratum = {k: len(v) for k, v in sorted(groups.items())}
    raw_n = sum(u.denominator for u in units)
    weighted_num = weighted_den = 0.0
    for members in groups.values():
        weight = max(members[0].stratum_size, len(members)) / len(members)
        weighted_num += weight * sum(u.numerator for u in members)
        weighted_den += weight * sum(u.denominator for u in members)
    if weighted_den <= 0 or raw_n <= 0:
        return RatioEstimate(None, None, None, int(raw_n), len(units), per_stratum)
    ratio = min(1.0, weighted_num / weighted_den)
    variance = _stratified_variance(groups, ratio) / (weighted_den * weighted_den)
    n_eff = raw_n
    if variance > 0 and 0 < ratio < 1:
        n_eff = min(raw_n, ratio * (1 - ratio) / variance)
    n_eff = max(n_eff, 1.0)
    low, high = wilson_interval(ratio * n_eff, n_eff, z)
    return RatioEstimate(ratio, low, high, int(round(raw_n)), len(units), per_stratum)
