"""Is one model better than another, or is the difference noise? A verdict from statistics.

    v = verdicts.compare(gan_precision, vae_precision, over="seeds", better="higher",
                         names=("the DCGAN", "the VAE"), what=("precision", "精确率"))
    print(v.en)   # the DCGAN is ahead: precision 0.912 against 0.847 (difference +0.065, 95 % interval ...)
    print(v.zh)   # the same sentence for the Chinese edition; print(v) picks the notebook's language

`compare` measures the difference statistic(a) - statistic(b) and an interval around it at
`level`. A verdict word (ahead, higher, lower) appears only where the interval excludes zero;
otherwise the sentence says there is no clear difference. Two sources of noise:

- over="samples": a and b hold one measurement (or one row of features) per sample. The interval
  is a percentile bootstrap (Efron & Tibshirani 1993): both sets are resampled with replacement
  and the statistic recomputed; with `paired=True` (a[i] and b[i] measure the same item, such as
  one test image judged by two classifiers) the same indices are drawn for both. Right for means,
  medians and FID; not for k-NN statistics such as precision and recall, whose neighbourhoods a
  resample's repeated points shrink: measure those over seeds.
- over="seeds": a and b hold one value of the measure per run (a training seed, or an
  independent draw of samples and real photos). The interval is Welch's t interval for the
  difference of the means: it needs two runs a side, and with few runs it is wide, as it should be.
"""

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Verdict:
    """The result of `compare`: the two values, their difference (a - b) and its interval, the
    verdict (`winner`, `word`) and the sentence in English (`en`) and Chinese (`zh`)."""

    a: float
    b: float
    difference: float
    low: float
    high: float
    level: float
    winner: str | None   # the better side's name (when `better` is given and the interval excludes 0)
    word: str            # "ahead" / "higher" / "lower", or "no clear difference"
    word_zh: str
    en: str
    zh: str

    @property
    def clear(self):
        """True when the interval excludes a zero difference."""
        return self.low > 0 or self.high < 0

    def __str__(self):
        """The sentence in the notebook's language (prodgen_lessons.language())."""
        from prodgen_lessons import language

        return self.zh if language() == "zh" else self.en


def _two_languages(x):
    return (x, x) if isinstance(x, str) else tuple(x)


def _t_quantile(p, df):
    """Student's t quantile without SciPy: bisection on the CDF, the density integrated by the
    trapezoid rule (accurate to ~1e-6 for the levels used here)."""
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)

    def cdf(t):
        x = np.linspace(0.0, t, 4001)
        f = np.exp(log_c - (df + 1) / 2 * np.log1p(x * x / df))
        return 0.5 + (f.sum() - (f[0] + f[-1]) / 2) * (x[1] - x[0])

    lo, hi = 0.0, 1.0
    while cdf(hi) < p:
        lo, hi = hi, 2 * hi
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < p else (lo, mid)
    return (lo + hi) / 2


def _bootstrap(a, b, statistic, paired, n_boot, level, seed):
    if paired and len(a) != len(b):
        raise ValueError(f"paired samples must have equal sizes, got {len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    for r in range(n_boot):
        i = rng.integers(0, len(a), len(a))
        j = i if paired else rng.integers(0, len(b), len(b))
        diffs[r] = statistic(a[i]) - statistic(b[j])
    low, high = np.quantile(diffs, [(1 - level) / 2, (1 + level) / 2])
    return float(statistic(a)), float(statistic(b)), float(low), float(high)


def _welch(a, b, level):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if min(len(a), len(b)) < 2:
        raise ValueError(f"over='seeds' needs at least two runs a side, got {len(a)} and {len(b)}")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    d = a.mean() - b.mean()
    if va + vb == 0:  # every run gave the same value: no spread to widen the interval
        return float(a.mean()), float(b.mean()), float(d), float(d)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))  # Welch-Satterthwaite
    half = _t_quantile((1 + level) / 2, df) * math.sqrt(va + vb)
    return float(a.mean()), float(b.mean()), float(d - half), float(d + half)


def _zh_join(left, right):
    """Chinese text joined with a space only after a Latin letter or digit (DCGAN 领先, VAE 的填补领先)."""
    return f"{left} {right}" if left[-1:].isascii() and left[-1:].isalnum() else f"{left}{right}"


def _number(fmt, x, sign=False):
    text = fmt.format(x)
    if sign and x > 0 and not text.startswith("+"):
        text = "+" + text
    return text.replace("-", "−") if text.startswith("-") else text


def compare(a, b, statistic=np.mean, *, over="samples", paired=False, better=None,
            names=("A", "B"), what=("the measure", "该指标"), fmt="{:.3f}", level=0.95,
            n_boot=2000, seed=0):
    """The difference statistic(a) - statistic(b) with its interval, and a verdict only where the
    interval excludes zero.

    a, b: per-sample measurements (over="samples"; rows are samples, so feature arrays work with a
    statistic such as `lambda f: metrics.fid(f, real)`), or one value per run (over="seeds",
    `statistic` unused). better: "higher" or "lower" when one direction is better (the verdict
    then names the better side), None when neither is (the verdict says higher or lower).
    names, what: strings, or (English, Chinese) pairs. fmt formats the values in the sentences.
    Returns a `Verdict`.
    """
    if over not in ("samples", "seeds"):
        raise ValueError(f"over must be 'samples' or 'seeds', got {over!r}")
    if better not in ("higher", "lower", None):
        raise ValueError(f"better must be 'higher', 'lower' or None, got {better!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    if over == "samples":
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        value_a, value_b, low, high = _bootstrap(a, b, statistic, paired, n_boot, level, seed)
    else:
        value_a, value_b, low, high = _welch(a, b, level)
    difference = value_a - value_b
    (name_a, name_a_zh), (name_b, name_b_zh) = (_two_languages(n) for n in names)
    what_en, what_zh = _two_languages(what)

    clear = low > 0 or high < 0
    winner = None
    if not clear:
        word, word_zh = "no clear difference", "没有明显差别"
    elif better is None:
        word, word_zh = ("higher", "更高") if low > 0 else ("lower", "更低")
    else:
        a_wins = (low > 0) == (better == "higher")
        winner, winner_zh = (name_a, name_a_zh) if a_wins else (name_b, name_b_zh)
        word, word_zh = "ahead", "领先"

    num = lambda x, sign=False: _number(fmt, x, sign)  # noqa: E731
    pct = f"{100 * level:g} %"
    numbers_en = (f"{what_en} {num(value_a)} against {num(value_b)} (difference {num(difference, True)}, "
                  f"{pct} interval {num(low, True)} to {num(high, True)}")
    numbers_zh = (f"{what_zh} {num(value_a)} 对 {num(value_b)}（差 {num(difference, True)}，"
                  f"{pct} 区间 {num(low, True)} 至 {num(high, True)}")
    if not clear:
        en = f"no clear difference: {numbers_en}, which includes zero)"
        zh = f"没有明显差别：{numbers_zh}，包含 0）"
    elif winner is not None:
        en = f"{winner} is ahead: {numbers_en})"
        zh = f"{_zh_join(winner_zh, '领先')}：{numbers_zh}）"
    else:
        en = f"{what_en} is {word} for {name_a} than for {name_b}: {numbers_en[len(what_en) + 1:]})"
        zh = f"{_zh_join(name_a_zh, '的')}{what_zh}比{name_b_zh}{word_zh}：{numbers_zh[len(what_zh) + 1:]}）"
    return Verdict(value_a, value_b, difference, low, high, level, winner, word, word_zh, en, zh)
