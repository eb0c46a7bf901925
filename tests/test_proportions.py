"""The Wilson score interval of a proportion, against published values, and the small-sample
rule (figures/proportions.py)."""
import pytest

from r2w_db.figures import proportions


@pytest.mark.parametrize("successes, cases, low, high", [
    (81, 263, 0.2553, 0.3662),   # Newcombe (1998), Statistics in Medicine 17, example (a)
    (15, 148, 0.0624, 0.1605),   # Newcombe (1998), example (b)
    (0, 20, 0.0, 0.1611),        # Newcombe (1998), example (c)
    (1, 29, 0.0061, 0.1718),     # Newcombe (1998), example (d)
    (0, 10, 0.0, 0.2775),
    (1, 2, 0.0945, 0.9055),
])
def test_wilson_interval_matches_known_values(successes, cases, low, high):
    got = proportions.wilson(successes, cases)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_wilson_interval_stays_in_zero_one_and_is_symmetric():
    low, high = proportions.wilson(10, 10)
    assert high == pytest.approx(1.0) and 0 < low < 1
    assert proportions.wilson(3, 10) == pytest.approx(tuple(1 - b for b in reversed(
        proportions.wilson(7, 10))))


def test_no_case_no_interval_and_bad_counts_refused():
    assert proportions.wilson(0, 0) is None
    with pytest.raises(ValueError):
        proportions.wilson(3, 2)


def test_too_few_is_one_rule():
    assert proportions.MIN_CASES == 5
    assert proportions.too_few(4) and not proportions.too_few(5)
