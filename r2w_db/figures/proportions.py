"""A proportion per period, told honestly: its Wilson score interval, and whether it stands on
enough cases to be judged at all (docs/figures.md, "Rates per day or hour").

Pure Python, no SQL: the pages' rates are counted elsewhere; this only says how sure they are.
"""
import math

MIN_CASES = 5           # fewer cases than this in a period: the rate is drawn apart, not judged
Z_95 = 1.959963984540054  # the standard normal's 97.5 % quantile: a two-sided 95 % interval


def wilson(successes, cases, z=Z_95):
    """(low, high) of the Wilson score interval of `successes` out of `cases`, or None when
    there is no case. Unlike p ± z·√(p(1−p)/n) it stays inside [0, 1] and is not zero-wide at
    0 of n or n of n."""
    if not cases:
        return None
    if not 0 <= successes <= cases:
        raise ValueError(f"{successes} successes out of {cases} cases")
    p, z2 = successes / cases, z * z
    denominator = 1 + z2 / cases
    centre = (p + z2 / (2 * cases)) / denominator
    half = z * math.sqrt(p * (1 - p) / cases + z2 / (4 * cases * cases)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def too_few(cases):
    """Whether a period with this many cases is too small to judge its rate."""
    return cases < MIN_CASES
