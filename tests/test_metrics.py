"""Tests for prodgen_lessons.metrics: each metric on data where the answer is known."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import math

import numpy as np
import pytest

from prodgen_lessons import metrics as M


def whitened(n, d, seed):
    """n samples in d dims with sample mean exactly 0 and sample covariance exactly I."""
    z = np.random.default_rng(seed).normal(size=(n, d))
    z -= z.mean(axis=0)
    chol = np.linalg.cholesky(np.cov(z, rowvar=False))
    return z @ np.linalg.inv(chol).T


# ----------------------------------------------------------------------------- FID


def test_fid_identical_sets_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 16)) @ np.random.default_rng(1).normal(size=(16, 16))
    assert M.fid(x, x) == pytest.approx(0.0, abs=1e-6)


def test_fid_shifted_mean_equals_squared_shift():
    x = np.random.default_rng(0).normal(size=(400, 8))
    delta = np.arange(8) * 0.5
    assert M.fid(x, x + delta) == pytest.approx(float(delta @ delta), rel=1e-8)


def test_fid_diagonal_gaussians_closed_form():
    d = 6
    mu1, mu2 = np.zeros(d), np.linspace(-1, 1, d)
    s1, s2 = np.linspace(0.5, 2.0, d), np.linspace(3.0, 1.0, d)  # standard deviations
    a = whitened(300, d, 0) * s1 + mu1
    b = whitened(500, d, 1) * s2 + mu2
    expected = ((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum()  # tr(S1+S2-2(S1S2)^1/2), diagonal
    assert M.fid(a, b) == pytest.approx(expected, rel=1e-8)


def test_fid_full_covariance_matches_eigenvalues_of_product_and_is_symmetric():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(600, 5)) @ rng.normal(size=(5, 5)) + 1.0
    b = rng.normal(size=(400, 5)) @ rng.normal(size=(5, 5))
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # independent route: eigenvalues of the (non-symmetric) product S_a S_b
    tr_sqrt = np.sqrt(np.linalg.eigvals(ca @ cb).real.clip(0)).sum()
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * tr_sqrt
    assert M.fid(a, b) == pytest.approx(expected, rel=1e-8)
    assert M.fid(a, b) == pytest.approx(M.fid(b, a), rel=1e-9)


def test_fid_rejects_bad_shapes():
    with pytest.raises(ValueError, match="same feature extractor"):
        M.fid(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(ValueError, match="2-D"):
        M.fid(np.zeros(10), np.zeros(10))


# ----------------------------------------------------------------------------- KID


def test_kid_same_distribution_near_zero_and_shift_clearly_positive():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(1000, 16)), rng.normal(size=(1000, 16))
    same, same_std = M.kid(a, b, subsets=10, subset_size=300)
    shifted, _ = M.kid(a, b + 1.0, subsets=10, subset_size=300)
    assert abs(same) < 0.02
    assert shifted > 0.5
    assert shifted > 50 * max(abs(same), same_std)


def test_kid_unbiased_averages_to_zero():
    # with only 20 samples per set the biased estimator would be clearly > 0; the unbiased one is not
    values = [M.kid(*np.random.default_rng(s).normal(size=(2, 20, 4)), subsets=1)[0] for s in range(300)]
    assert abs(np.mean(values)) < 3 * np.std(values) / math.sqrt(len(values))
    assert min(values) < 0  # unbiased estimates can be negative


# ----------------------------------------------------------------------------- Inception Score


def test_inception_score_uniform_one_hot_equals_num_classes():
    probs = np.tile(np.eye(10), (20, 1))  # every class equally often, each prediction certain
    assert M.inception_score(probs, splits=1)[0] == pytest.approx(10.0)
    mean, std = M.inception_score(probs, splits=4)  # 50 rows per split = 5 of each class
    assert mean == pytest.approx(10.0) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_collapsed_generator_is_one():
    one_class = np.tile(np.eye(10)[3], (100, 1))
    assert M.inception_score(one_class, splits=5)[0] == pytest.approx(1.0)
    unsure = np.full((100, 10), 0.1)  # confident about nothing
    assert M.inception_score(unsure, splits=5)[0] == pytest.approx(1.0)


def test_inception_score_rejects_logits():
    with pytest.raises(ValueError, match="softmax"):
        M.inception_score(np.random.default_rng(0).normal(size=(10, 10)), splits=1)


# ----------------------------------------------------------------------------- precision / recall


def test_precision_recall_identical_sets():
    x = np.random.default_rng(0).normal(size=(500, 8))
    assert M.precision_recall(x, x.copy(), k=3) == (1.0, 1.0)


def test_precision_recall_collapsed_generator():
    real = np.random.default_rng(0).normal(size=(500, 8))
    fake = np.repeat(real[:1], 200, axis=0)  # one point, inside the real support
    precision, recall = M.precision_recall(real, fake, k=3)
    assert precision == 1.0
    assert recall <= 0.01


def test_precision_recall_far_away_sets():
    real = np.random.default_rng(0).normal(size=(300, 8))
    fake = np.random.default_rng(1).normal(size=(300, 8)) + 100.0
    assert M.precision_recall(real, fake) == (0.0, 0.0)


def test_precision_recall_narrow_generator_trades_recall_for_precision():
    real = np.random.default_rng(0).normal(size=(1000, 4))
    fake = 0.3 * np.random.default_rng(1).normal(size=(1000, 4))  # "truncation trick"
    precision, recall = M.precision_recall(real, fake)
    assert precision > 0.95 and recall < 0.5


def test_precision_recall_batching_gives_same_answer(monkeypatch):
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(200, 5)), rng.normal(size=(150, 5)) * 1.2
    full = M.precision_recall(real, fake)
    monkeypatch.setattr(M, "_row_batch", lambda num_cols, budget=0: 7)
    assert M.precision_recall(real, fake) == full
    assert 0.3 < full[0] < 1.0 and 0.3 < full[1] < 1.0


# ----------------------------------------------------------------------------- conditioning


def test_conditional_accuracy_known_values():
    preds = np.array([0, 1, 2, 2, 1, 0])
    labels = np.array([0, 1, 1, 2, 1, 2])
    assert M.conditional_accuracy(preds, labels) == pytest.approx(4 / 6)
    assert M.conditional_accuracy(np.eye(4)[preds], labels) == pytest.approx(4 / 6)  # probabilities
    per = M.per_category_accuracy(np.eye(4)[preds], labels)
    np.testing.assert_allclose(per[:3], [1.0, 2 / 3, 0.5])
    assert np.isnan(per[3])  # category 3 never requested
    cm = M.confusion_matrix(preds, labels, num_classes=3)
    assert cm.tolist() == [[1, 0, 0], [0, 2, 1], [1, 0, 1]]


def test_conditional_accuracy_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="shape"):
        M.conditional_accuracy(np.array([0, 1]), np.array([0, 1, 2]))


# ----------------------------------------------------------------------------- diversity


def test_diversity_collapsed_generator_is_zero_and_real_is_one():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 8))
    real_labels = np.repeat(np.arange(3), 100)
    collapsed = np.repeat(real[[0, 100, 200]], 100, axis=0)  # one image per category
    div = M.per_category_diversity(collapsed, real_labels, real, real_labels)
    np.testing.assert_allclose(div, 0.0, atol=1e-9)
    same = M.per_category_diversity(rng.normal(size=(300, 8)), real_labels, real, real_labels)
    np.testing.assert_allclose(same, 1.0, atol=0.05)
    half = M.per_category_diversity(0.5 * real, real_labels, real, real_labels)
    np.testing.assert_allclose(half, 0.5, rtol=1e-9)
    raw = M.per_category_diversity(real, real_labels)  # unnormalised: mean distance ~ sqrt(2 d) = 4
    assert np.all((raw > 3.5) & (raw < 4.5))


# ----------------------------------------------------------------------------- memorisation


def test_mann_whitney_hand_computed():
    # x = [1, 4], y = [2, 4, 6]: pairs x>y: (4>2) = 1, tie (4=4) = 0.5 -> U = 1.5
    assert M.mann_whitney_u([1, 4], [2, 4, 6]) == 1.5
    assert M.mann_whitney_u([2, 4, 6], [1, 4]) == 4.5  # U_x + U_y = m n
    # var = m n / 12 * ((N + 1) - sum(t^3 - t) / (N (N - 1))) = 0.5 * (6 - 6 / 20) = 2.85
    assert M.mann_whitney_z([1, 4], [2, 4, 6]) == pytest.approx((1.5 - 3) / math.sqrt(2.85))
    # no ties: x all below y -> U = 0, var = 3 * 2 * 6 / 12 = 3
    assert M.mann_whitney_u([1, 2, 3], [4, 5]) == 0.0
    assert M.mann_whitney_z([1, 2, 3], [4, 5]) == pytest.approx(-3 / math.sqrt(3))


def test_mann_whitney_u_matches_pair_counting():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, 40), rng.integers(0, 5, 30)  # many ties
    brute = (x[:, None] > y[None, :]).sum() + 0.5 * (x[:, None] == y[None, :]).sum()
    assert M.mann_whitney_u(x, y) == brute


def test_nearest_neighbours_matches_brute_force():
    rng = np.random.default_rng(0)
    q, r = rng.normal(size=(30, 6)), rng.normal(size=(80, 6))
    d, i = M.nearest_neighbours(q, r, space="feature", k=3)
    full = np.sqrt(((q[:, None] - r[None]) ** 2).sum(-1))
    np.testing.assert_array_equal(i, np.argsort(full, axis=1)[:, :3])
    np.testing.assert_allclose(d, np.sort(full, axis=1)[:, :3], rtol=1e-12)
    with pytest.raises(ValueError, match="space"):
        M.nearest_neighbours(q, r, space="inception")


def blob_images(n, seed):
    """Images from one smooth distribution: random mixtures of a few fixed patterns plus noise."""
    rng = np.random.default_rng(seed)
    patterns = np.random.default_rng(123).uniform(size=(5, 28, 28))
    w = rng.dirichlet(np.ones(5), size=n)
    x = np.einsum("nk,khw->nhw", w, patterns) + 0.05 * rng.normal(size=(n, 28, 28))
    return np.clip(x, 0, 1)


def test_memorisation_audit_detects_copies_and_not_fresh_samples():
    train, test = blob_images(600, 0), blob_images(200, 1)
    copies = train[100:300]
    fresh = blob_images(200, 2)
    audit = M.memorisation_audit(copies, train, test)["pixel"]
    np.testing.assert_allclose(audit["gen_nn"], 0.0, atol=1e-9)
    assert audit["ct_z"] < -10
    assert audit["copied_fraction"] == 1.0
    assert audit["closest"][0][1] == 100 + audit["closest"][0][0]  # the copied training image
    honest = M.memorisation_audit(fresh, train, test, embed=lambda x: x.reshape(len(x), -1)[:, ::7])
    for space in ("pixel", "feature"):
        assert abs(honest[space]["ct_z"]) < 3
        assert honest[space]["copied_fraction"] < 0.06
        assert honest[space]["gen_nn_median"] > 0.1


# ----------------------------------------------------------------------------- Evaluator


@pytest.fixture(scope="module")
def tiny_classifier():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(16, activation="relu", name="features")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def test_evaluator_end_to_end(tiny_classifier):
    train, test = blob_images(400, 0), blob_images(200, 1)
    train_labels = np.arange(400) % 10
    ev = M.Evaluator(tiny_classifier, sample_size=200, kid_subsets=5, kid_subset_size=100)
    feats, probs = ev.embed(train[:7])
    assert feats.shape == (7, 16) and probs.shape == (7, 10)

    # "generated" = the reference images themselves: FID 0, full precision/recall, real diversity
    ev_all = M.Evaluator(tiny_classifier, sample_size=1000, kid_subsets=5, kid_subset_size=100)
    same = ev_all.evaluate(train, requested_labels=train_labels, real_train=(train, train_labels))
    assert same["fid"] == pytest.approx(0.0, abs=1e-6)
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    assert same["diversity"] == pytest.approx(1.0)
    assert same["sample_size"] == 400

    gen_uint8 = (blob_images(300, 5) * 255).astype(np.uint8)  # uint8 is accepted
    m = ev.evaluate(gen_uint8, requested_labels=np.arange(300) % 10, real_train=train, real_test=test)
    floor = ev.noise_floor(train, test)
    for d in (m, floor):
        for key in ("fid", "kid", "is", "precision", "recall", "diversity", "copying_z", "copied_fraction"):
            assert np.isfinite(d[key]), key
        assert d["sample_size"] == 200
    assert 0 <= m["conditional_accuracy"] <= 1 and np.isnan(floor["conditional_accuracy"])

    table = M.format_report(m, floor)
    lines = table.splitlines()
    assert lines[0].split() == ["metric", "value", "noise", "floor", "better"]
    fid_line = next(line for line in lines if line.startswith("FID"))
    assert f"{m['fid']:.2f}" in fid_line and f"{floor['fid']:.2f}" in fid_line
    # columns aligned: the value column ends at the same place on every row
    value_end = lines[0].index("value") + len("value")
    assert all(line[value_end - 1] != " " for line in lines[2:])

    # copying=False: no C_T in the scores, the floor or the table; everything else unchanged
    quiet = M.Evaluator(tiny_classifier, sample_size=200, kid_subsets=5, kid_subset_size=100, copying=False)
    m_quiet = quiet.evaluate(gen_uint8, requested_labels=np.arange(300) % 10, real_train=train, real_test=test)
    floor_quiet = quiet.noise_floor(train, test)
    assert not {"copying_z", "copied_fraction"} & (set(m_quiet) | set(floor_quiet))
    assert m_quiet["fid"] == m["fid"] and floor_quiet["recall"] == floor["recall"]
    assert "copying" not in M.format_report(m_quiet, floor_quiet)


def test_reference_scores_images_against_photos_embedded_once(tiny_classifier):
    photos, other = blob_images(300, 0), blob_images(300, 3)
    judges = {"fid": M.Evaluator(tiny_classifier), "fid2": M.Evaluator(tiny_classifier, feature_layer="features")}
    reference = M.Reference(judges, photos)
    assert reference.score(photos) == pytest.approx({"fid": 0.0, "fid2": 0.0}, abs=1e-6)
    labels = np.arange(300) % 10
    scored = reference.score(other, labels)
    direct = judges["fid"].embed(other)
    assert scored["fid"] == pytest.approx(M.fid(direct[0], reference.features["fid"])) and scored["fid"] > 0
    assert scored["accuracy"] == M.conditional_accuracy(direct[1], labels)
    assert "accuracy" not in reference.score(other)  # no labels, no accuracy


def test_evaluator_input_checks(tiny_classifier):
    import keras

    ev = M.Evaluator(tiny_classifier, sample_size=50, kid_subsets=2, kid_subset_size=20)
    with pytest.raises(ValueError, match=r"\(images \+ 1\) / 2"):
        ev.embed(np.full((4, 28, 28, 1), -0.5, dtype=np.float32))
    rgb64 = np.random.default_rng(0).uniform(size=(3, 64, 64, 3))
    assert ev.embed(rgb64)[0].shape == (3, 16)  # resized and turned grey
    no_features = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                                    keras.layers.Dense(10, activation="softmax")])
    with pytest.raises(ValueError, match="features"):
        M.Evaluator(no_features)


def test_code_purity_matches_codes_one_to_one():
    codes = np.arange(200) % 10
    assert M.code_purity(codes, (codes + 3) % 10)[0] == 1.0  # a relabelling is perfect
    all_shirts = np.full(200, 6)
    assert M.code_purity(codes, all_shirts)[0] == pytest.approx(0.1)  # one category for all codes
    assert M.code_purity(codes, all_shirts, one_to_one=False)[0] == 1.0  # the majority rule is fooled
    half = np.where(codes < 5, codes, 0)  # codes 5..9 all draw category 0, which code 0 already has
    assert M.code_purity(codes, half)[0] == pytest.approx(0.5)


def test_product_width_and_brightness():
    x = np.zeros((2, 28, 28, 1))
    x[0, 5:10, 3:13] = 0.5
    x[1, 2:20, 10:14] = 0.8
    assert M.product_width(x).tolist() == [10, 4]
    assert np.allclose(M.product_brightness(x), [0.5, 0.8])


def test_exercise_check_says_what_is_wrong_without_raising(capsys):
    from prodgen_lessons import exercises

    cases = [(np.array([1.0, -2.0]),), (np.array([[0.5]]),)]
    def not_written(x):
        raise NotImplementedError
    assert not exercises.check(not_written, np.square, cases, name="f")
    assert not exercises.check(lambda x: x * 2, np.square, cases, name="f")
    assert not exercises.check(lambda x: x.sum(), np.square, cases, name="f")
    assert not exercises.check(lambda x: 1 / 0, np.square, cases, name="f")
    assert exercises.check(lambda x: x * x, np.square, cases, name="f")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("f: not written yet") and "case 1 gives" in lines[1]
    assert "shape" in lines[2] and "ZeroDivisionError" in lines[3] and lines[4] == "f: correct on all 2 cases"
