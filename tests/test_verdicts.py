"""Tests for prodgen_lessons.verdicts: known differences are found, equal distributions give no
verdict, and the intervals cover the true difference at about the stated rate."""

import numpy as np
import pytest

from prodgen_lessons import metrics, verdicts


def test_t_quantile_matches_tables():
    # Student's t table: t_{0.975} for 1, 4, 10 degrees of freedom; t_{0.995} for 3
    for p, df, want in [(0.975, 1, 12.706), (0.975, 4, 2.776), (0.975, 10, 2.228), (0.995, 3, 5.841)]:
        assert verdicts._t_quantile(p, df) == pytest.approx(want, abs=2e-3)


def test_known_difference_over_samples_is_found_and_named():
    rng = np.random.default_rng(0)
    good, bad = rng.normal(0.6, 1.0, 500), rng.normal(0.3, 1.0, 500)
    v = verdicts.compare(bad, good, better="higher", names=("the VAE", "the DCGAN"), what=("precision", "精确率"))
    assert v.clear and v.winner == "the DCGAN" and v.high < 0
    assert v.en.startswith("the DCGAN is ahead: precision") and v.zh.startswith("the DCGAN 领先：精确率")
    # lower is better: the same numbers make the other side win
    assert verdicts.compare(bad, good, better="lower", names=("A", "B")).winner == "A"


def test_printed_in_the_notebooks_language(monkeypatch):
    import prodgen_lessons

    v = verdicts.compare([1.0, 1.1, 0.9], [2.0, 2.1, 1.9], over="seeds", better="higher", names=("A", "B"))
    monkeypatch.setenv(prodgen_lessons.LANGUAGE_VARIABLE, "zh")
    assert str(v) == v.zh and "领先" in str(v)
    monkeypatch.setenv(prodgen_lessons.LANGUAGE_VARIABLE, "en")
    assert str(v) == v.en and "ahead" in str(v)


def test_known_difference_over_seeds_is_found():
    v = verdicts.compare([5.8, 6.1, 5.5, 6.0, 5.9], [19.6, 18.0, 21.2, 17.5, 20.3], over="seeds", better="lower",
                         names=(("the DCGAN", "DCGAN"), ("the VAE", "VAE")), what="FID", fmt="{:.1f}")
    assert v.winner == "the DCGAN" and v.high < 0 and v.zh.startswith("DCGAN 领先")
    # a space between Latin and Chinese, none between two Chinese words
    v = verdicts.compare([5.8, 6.1, 5.5], [19.6, 18.0, 21.2], over="seeds", better="lower",
                         names=(("the VAE's fill", "VAE 的填补"), ("the copy", "复制")), what="FID")
    assert v.zh.startswith("VAE 的填补领先：")


def test_identical_data_gives_no_verdict():
    x = np.random.default_rng(1).normal(size=300)
    for v in (verdicts.compare(x, x.copy(), better="higher"), verdicts.compare(x, x.copy(), paired=True),
              verdicts.compare([0.5, 0.52, 0.49], [0.5, 0.52, 0.49], over="seeds", better="lower")):
        assert not v.clear and v.winner is None and v.word == "no clear difference"
        assert v.en.startswith("no clear difference") and "ahead" not in v.en and "领先" not in v.zh


def test_no_preferred_direction_says_higher_or_lower():
    rng = np.random.default_rng(2)
    v = verdicts.compare(rng.normal(0, 1, 400), rng.normal(1, 1, 400), statistic=np.median, names=("gen", "fresh"),
                         what="median distance")
    assert v.word == "lower" and v.winner is None and v.en.startswith("median distance is lower for gen than for fresh")


def coverage(draw, over, reps=300, **kwargs):
    """Fraction of `reps` experiments whose interval covers the true difference 0.2."""
    rng = np.random.default_rng(3)
    hits = 0
    for r in range(reps):
        a, b = draw(rng)
        v = verdicts.compare(a, b, over=over, seed=r, **kwargs)
        hits += v.low <= 0.2 <= v.high
    return hits / reps


def test_bootstrap_interval_covers_at_about_the_stated_rate():
    # skewed data (exponential), 150 per side: a 95 % interval should cover about 95 % of the time
    draw = lambda rng: (rng.exponential(1.2, 150), rng.exponential(1.0, 150))  # noqa: E731
    assert 0.90 <= coverage(draw, "samples", n_boot=400) <= 0.99
    # a nominal 50 % interval must not secretly be a 95 % one
    assert 0.40 <= coverage(draw, "samples", n_boot=400, level=0.5) <= 0.60


def test_paired_bootstrap_uses_the_pairing():
    # two judges on the same 2,000 items: their per-item scores share most of their noise, so the
    # paired interval is far narrower than the unpaired one and finds the small difference
    rng = np.random.default_rng(4)
    item = rng.normal(0, 1, 2000)
    a, b = item + 0.05 + rng.normal(0, 0.1, 2000), item + rng.normal(0, 0.1, 2000)
    paired, unpaired = verdicts.compare(a, b, paired=True), verdicts.compare(a, b)
    assert paired.clear and not unpaired.clear
    assert (paired.high - paired.low) < 0.2 * (unpaired.high - unpaired.low)
    with pytest.raises(ValueError):
        verdicts.compare(a, b[:10], paired=True)


def test_seed_interval_covers_at_about_the_stated_rate():
    # five runs a side, as in the chapters: Welch's t interval (a normal quantile would under-cover)
    draw = lambda rng: (rng.normal(1.2, 0.5, 5), rng.normal(1.0, 1.0, 5))  # noqa: E731
    assert 0.92 <= coverage(draw, "seeds", reps=1000) <= 0.98


def test_a_metric_of_feature_sets_can_be_bootstrapped():
    # FID of two generated feature sets against one real set: the shifted set is clearly worse
    rng = np.random.default_rng(5)
    real = rng.normal(size=(400, 4))
    near, far = rng.normal(size=(400, 4)), rng.normal(0.5, 1.0, size=(400, 4))
    v = verdicts.compare(far, near, lambda f: metrics.fid(f, real), better="lower", names=("far", "near"),
                         n_boot=200)
    assert v.winner == "near" and v.low > 0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        verdicts.compare([1, 2], [1, 2], over="runs")
    with pytest.raises(ValueError):
        verdicts.compare([1, 2], [1, 2], better="bigger")
    with pytest.raises(ValueError):
        verdicts.compare([1.0], [1.0, 2.0], over="seeds")
