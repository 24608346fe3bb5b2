"""Measuring generated product images in the feature space of a Fashion-MNIST classifier.

The maths is plain NumPy in float64; Keras is only needed by `Evaluator`, which turns images into
features (the classifier's penultimate Dense layer, named "features") and class probabilities.

- Distribution distances: `fid` (Frechet distance), `kid` (unbiased MMD^2, cubic kernel).
- Quality / coverage: `inception_score`, `precision_recall` (Kynkaanniemi et al. 2019).
- Conditioning: `conditional_accuracy`, `per_category_accuracy`, `confusion_matrix`.
- Mode collapse: `per_category_diversity`.
- Unsupervised codes (InfoGAN): `code_purity`, `product_width`, `product_brightness`.
- Memorisation (the copyright question): `nearest_neighbours`, `mann_whitney_u`, `mann_whitney_z`,
  `memorisation_audit` (data-copying test of Meehan, Chaudhuri & Dasgupta 2020).
- `Evaluator` runs everything, `Evaluator.noise_floor` gives the score of real held-out images at the
  same sample size (what a perfect generator would get), `format_report` prints both side by side.

FID and KID here are computed with a small Fashion-MNIST classifier, not Inception-v3: the numbers are
comparable with each other inside this course, not with published FIDs.
"""

import math

import numpy as np

# ----------------------------------------------------------------------------- input checks


def _as_features(x, name):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (num_samples, num_features), got shape {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples, got {x.shape[0]}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or inf values")
    return x


def _same_dim(a, b, name_a, name_b):
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{name_a} has {a.shape[1]} features but {name_b} has {b.shape[1]}; both must come from the "
            "same feature extractor"
        )


def _as_probs(probs, name="probs"):
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"{name} must be (num_samples, num_classes) class probabilities, got shape {p.shape}")
    if np.any(p < -1e-6) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(f"{name} rows must be probabilities (non-negative, summing to 1); apply softmax to logits")
    return np.clip(p, 0.0, None)


def _as_preds(probs_or_preds, name="probs_or_preds"):
    x = np.asarray(probs_or_preds)
    if x.ndim == 2:
        return np.argmax(x, axis=1)
    if x.ndim == 1:
        if not np.all(np.equal(np.mod(x, 1), 0)):
            raise ValueError(f"{name} as a 1-D array must hold integer class predictions")
        return x.astype(np.int64)
    raise ValueError(f"{name} must be (N, num_classes) probabilities or (N,) predicted labels, got shape {x.shape}")


def _as_labels(labels, n, name="labels"):
    y = np.asarray(labels)
    if y.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match the images, got {y.shape}")
    if y.size and (not np.all(np.equal(np.mod(y, 1), 0)) or y.min() < 0):
        raise ValueError(f"{name} must be non-negative integer class indices")
    return y.astype(np.int64)


# ----------------------------------------------------------------------------- distances


def _sq_dists(a, b):
    """Squared Euclidean distances (len(a), len(b)); inputs already centred by the caller."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d2, 0.0)


def _row_batch(num_cols, budget=2**24):
    # Rows per chunk so one (rows, num_cols) float64 block stays near 128 MB.
    return max(1, budget // max(1, num_cols))


def _kth_nn_radii(x, k):
    """Distance of each row of x to its k-th nearest neighbour among the other rows."""
    n = len(x)
    if not 1 <= k < n:
        raise ValueError(f"k must be between 1 and num_samples - 1 = {n - 1}, got {k}")
    shift = x.mean(axis=0)  # centring makes the |a|^2+|b|^2-2ab expansion far more accurate
    xc = x - shift
    radii = np.empty(n)
    step = _row_batch(n)
    for i in range(0, n, step):
        d2 = _sq_dists(xc[i : i + step], xc)
        # index k of the sorted row: index 0 is the point itself (distance 0)
        radii[i : i + step] = np.sqrt(np.partition(d2, k, axis=1)[:, k])
    return radii


def _covered(points, centres, radii, shift):
    """Fraction of `points` inside at least one ball (centre, radius)."""
    p = points - shift
    c = centres - shift
    r2 = radii**2
    inside = np.zeros(len(p), dtype=bool)
    step = _row_batch(len(c))
    for i in range(0, len(p), step):
        inside[i : i + step] = np.any(_sq_dists(p[i : i + step], c) <= r2[None, :], axis=1)
    return float(inside.mean())


# ----------------------------------------------------------------------------- FID / KID / IS


def _sqrtm_psd(m):
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition."""
    w, v = np.linalg.eigh((m + m.T) / 2.0)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def fid(feats_a, feats_b):
    """Frechet distance between Gaussians fitted to two feature sets.

    FID = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)).
    tr((S_a S_b)^(1/2)) = sum of sqrt(eigenvalues) of the symmetric PSD matrix
    S_a^(1/2) S_b S_a^(1/2), which has the same eigenvalues as S_a S_b and is stable to decompose.
    Lower is better; 0 for identical sets. Biased upwards for small samples: compare FIDs only at
    the same sample size.
    """
    a = _as_features(feats_a, "feats_a")
    b = _as_features(feats_b, "feats_b")
    _same_dim(a, b, "feats_a", "feats_b")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    root_a = _sqrtm_psd(cov_a)
    middle = root_a @ cov_b @ root_a
    eig = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    tr_covmean = np.sqrt(np.clip(eig, 0.0, None)).sum()
    value = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2.0 * tr_covmean
    return float(max(value, 0.0))  # tiny negative values are round-off


def _polynomial_kernel(x, y):
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def kid(feats_a, feats_b, subsets=100, subset_size=1000, seed=0):
    """Kernel Inception Distance: unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 (Binkowski et al. 2018).

    Averaged over `subsets` random subsets of `subset_size` from each set (capped by the set sizes).
    Returns (mean, std) over subsets. Unbiased, so it can be slightly negative when the two sets come
    from the same distribution; unlike FID its expected value does not depend on the sample size.
    """
    a = _as_features(feats_a, "feats_a")
    b = _as_features(feats_b, "feats_b")
    _same_dim(a, b, "feats_a", "feats_b")
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    m = min(int(subset_size), len(a), len(b))
    if m < 2:
        raise ValueError(f"subset_size must be >= 2, got {subset_size}")
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for s in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        k_xx = _polynomial_kernel(x, x)
        k_yy = _polynomial_kernel(y, y)
        k_xy = _polynomial_kernel(x, y)
        # drop the diagonals k(x_i, x_i): that is what makes the estimate unbiased
        values[s] = (
            (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
            + (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
            - 2.0 * k_xy.mean()
        )
    return float(values.mean()), float(values.std())


def inception_score(probs, splits=10):
    """Classifier Inception Score: exp(E_x KL(p(y|x) || p(y))), computed on `splits` chunks.

    High when each image is classified confidently (sharp p(y|x)) and all classes appear (flat p(y)).
    Ranges from 1 (every image gets the same prediction) to num_classes. Returns (mean, std) over splits.
    """
    p = _as_probs(probs)
    if not 1 <= splits <= len(p):
        raise ValueError(f"splits must be between 1 and the number of samples ({len(p)}), got {splits}")
    scores = []
    for part in np.array_split(p, splits):
        p_y = part.mean(axis=0, keepdims=True)
        # 0 * log 0 = 0; where p > 0, p_y > 0 as well
        ratio = np.where(part > 0, part / np.where(p_y > 0, p_y, 1.0), 1.0)
        kl = (part * np.log(ratio)).sum(axis=1)
        scores.append(math.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


# ----------------------------------------------------------------------------- precision / recall


def precision_recall(real_feats, fake_feats, k=3):
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    Each set's manifold is the union of balls around its samples with radius = distance to the k-th
    nearest neighbour in the same set. Precision = fraction of fakes inside the real manifold
    (are the images realistic?); recall = fraction of reals inside the fake manifold (is the data
    variety covered?). Distances are computed in row blocks, so 10k x 10k fits in memory.
    Returns (precision, recall).
    """
    real = _as_features(real_feats, "real_feats")
    fake = _as_features(fake_feats, "fake_feats")
    _same_dim(real, fake, "real_feats", "fake_feats")
    real_radii = _kth_nn_radii(real, k)
    fake_radii = _kth_nn_radii(fake, k)
    shift = real.mean(axis=0)
    precision = _covered(fake, real, real_radii, shift)
    recall = _covered(real, fake, fake_radii, shift)
    return precision, recall


# ----------------------------------------------------------------------------- conditioning


def conditional_accuracy(probs_or_preds, requested_labels):
    """Fraction of generated images the classifier assigns to the category they were requested for."""
    preds = _as_preds(probs_or_preds)
    labels = _as_labels(requested_labels, len(preds), "requested_labels")
    if len(preds) == 0:
        raise ValueError("conditional_accuracy needs at least one image")
    return float(np.mean(preds == labels))


def per_category_accuracy(probs_or_preds, requested_labels, num_classes=None):
    """Conditional accuracy per requested category: array (num_classes,), NaN where none was requested."""
    preds = _as_preds(probs_or_preds)
    labels = _as_labels(requested_labels, len(preds), "requested_labels")
    num_classes = _num_classes(num_classes, probs_or_preds, labels, preds)
    acc = np.full(num_classes, np.nan)
    for c in range(num_classes):
        mask = labels == c
        if mask.any():
            acc[c] = np.mean(preds[mask] == c)
    return acc


def confusion_matrix(probs_or_preds, requested_labels, num_classes=None):
    """Counts (num_classes, num_classes): row = requested category, column = predicted category."""
    preds = _as_preds(probs_or_preds)
    labels = _as_labels(requested_labels, len(preds), "requested_labels")
    num_classes = _num_classes(num_classes, probs_or_preds, labels, preds)
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (labels, preds), 1)
    return cm


def _num_classes(num_classes, probs_or_preds, labels, preds):
    if num_classes is None:
        x = np.asarray(probs_or_preds)
        num_classes = x.shape[1] if x.ndim == 2 else int(max(labels.max(initial=-1), preds.max(initial=-1)) + 1)
    if labels.size and labels.max() >= num_classes:
        raise ValueError(f"requested_labels contain class {labels.max()} but num_classes is {num_classes}")
    return int(num_classes)


# ----------------------------------------------------------------------------- diversity


def _best_matching(table):
    """Max total of table[i, match[i]] over one-to-one matchings (DP over column subsets; small k)."""
    rows, cols = table.shape
    if cols > 20:
        raise ValueError(f"one-to-one matching supports at most 20 categories, got {cols}")
    best = {0: (0, ())}  # used-columns mask -> (total, columns chosen for rows 0..r-1)
    for r in range(rows):
        nxt = {}
        for mask, (total, chosen) in best.items():
            for c in range(cols):
                if not mask >> c & 1:
                    key, cand = mask | 1 << c, (total + table[r, c], chosen + (c,))
                    if key not in nxt or cand[0] > nxt[key][0]:
                        nxt[key] = cand
        best = nxt
    return max(best.values())


def code_purity(codes, predicted, num_categories=None, one_to_one=True):
    """How well an unsupervised categorical code matches the categories: the fraction of images
    whose category (as `predicted`, e.g. by the classifier) is their code's matched category.

    one_to_one=True: each code value is matched to a different category, the matching that
    maximises the purity (so ten codes that all draw shirts score 0.1, not 1.0); False: each code
    value takes its most common category. Returns (purity, matched category per code value).
    """
    codes, predicted = np.asarray(codes).astype(int), _as_preds(predicted)
    if codes.shape != predicted.shape:
        raise ValueError(f"codes {codes.shape} and predicted {predicted.shape} must have the same shape")
    k = int(num_categories or max(codes.max(), predicted.max()) + 1)
    table = np.zeros((k, k), np.int64)
    np.add.at(table, (codes, predicted), 1)
    if one_to_one:
        total, match = _best_matching(table)
        return float(total / len(codes)), np.array(match)
    return float(table.max(1).sum() / len(codes)), table.argmax(1)


def _grey(images01):
    """(N, H, W[, C]) images in [0, 1] -> float64 (N, H, W), channels averaged."""
    x = np.asarray(images01, np.float64)
    if x.ndim not in (3, 4):
        raise ValueError(f"images must be (N, H, W) or (N, H, W, C), got shape {x.shape}")
    return x.mean(-1) if x.ndim == 4 else x


def product_width(images01, threshold=0.1):
    """Width of the product in pixels, per image: the number of columns with a pixel above
    `threshold` (images in [0, 1], product bright on a dark background)."""
    return (_grey(images01) > threshold).any(axis=1).sum(axis=1).astype(np.float64)


def product_brightness(images01, threshold=0.1):
    """Mean intensity of the product's pixels (those above `threshold`), per image."""
    x = _grey(images01)
    mask = x > threshold
    return (x * mask).sum(axis=(1, 2)) / np.maximum(mask.sum(axis=(1, 2)), 1)


def _mean_pairwise_distance(x):
    xc = x - x.mean(axis=0)  # centring: identical rows give exactly 0
    n = len(xc)
    d = np.sqrt(_sq_dists(xc, xc))
    return float((d.sum() - np.trace(d)) / (n * (n - 1)))


def per_category_diversity(feats, labels, real_feats=None, real_labels=None, num_classes=None,
                           max_per_class=1000, seed=0):
    """Mean pairwise feature distance within each category -> array (num_classes,).

    With `real_feats`/`real_labels`, each value is divided by the same quantity for real images:
    ~1 means real-like variety, ~0 means mode collapse (every image of that category looks the same).
    Categories with fewer than 2 samples are NaN. At most `max_per_class` samples per category are
    used (random, fixed by `seed`) to bound the cost.
    """
    f = _as_features(feats, "feats")
    y = _as_labels(labels, len(f), "labels")
    if (real_feats is None) != (real_labels is None):
        raise ValueError("give both real_feats and real_labels, or neither")
    if real_feats is not None:
        rf = _as_features(real_feats, "real_feats")
        _same_dim(f, rf, "feats", "real_feats")
        ry = _as_labels(real_labels, len(rf), "real_labels")
    if num_classes is None:
        num_classes = int(max(y.max(), ry.max() if real_feats is not None else -1)) + 1
    rng = np.random.default_rng(seed)

    def spread(x, lab, c):
        idx = np.flatnonzero(lab == c)
        if len(idx) < 2:
            return np.nan
        if len(idx) > max_per_class:
            idx = rng.choice(idx, max_per_class, replace=False)
        return _mean_pairwise_distance(x[idx])

    out = np.full(num_classes, np.nan)
    for c in range(num_classes):
        value = spread(f, y, c)
        if real_feats is not None:
            ref = spread(rf, ry, c)
            value = value / ref if ref and np.isfinite(ref) else np.nan
        out[c] = value
    return out


# ----------------------------------------------------------------------------- memorisation


def _flatten(x, name):
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{name} must have a sample axis plus at least one more axis, got shape {x.shape}")
    if x.dtype == np.uint8:
        x = x / 255.0
    return x.reshape(len(x), -1).astype(np.float64)


def nearest_neighbours(query, reference, space="pixel", k=1, embed=None):
    """k nearest neighbours of each query row among `reference` (Euclidean).

    space="pixel": images of any shape are flattened (uint8 is scaled to [0, 1]).
    space="feature": inputs are feature arrays (N, D), or images mapped by `embed(images) -> features`.
    Returns (distances (n, k), indices (n, k)), nearest first. Distances of the selected neighbours
    are recomputed exactly, so a copy of a training image has distance 0.
    """
    if space not in ("pixel", "feature"):
        raise ValueError(f"space must be 'pixel' or 'feature', got {space!r}")
    if space == "feature" and embed is not None:
        query, reference = embed(query), embed(reference)
    q = _flatten(query, "query")
    r = _flatten(reference, "reference")
    _same_dim(q, r, "query", "reference")
    if not 1 <= k <= len(r):
        raise ValueError(f"k must be between 1 and len(reference) = {len(r)}, got {k}")
    shift = r.mean(axis=0)
    qc, rc = q - shift, r - shift
    indices = np.empty((len(q), k), dtype=np.int64)
    step = _row_batch(len(r))
    for i in range(0, len(q), step):
        d2 = _sq_dists(qc[i : i + step], rc)
        if k == 1:
            idx = np.argmin(d2, axis=1)[:, None]
        else:
            idx = np.argpartition(d2, k - 1, axis=1)[:, :k]
        indices[i : i + step] = idx
    dists = np.stack([np.sqrt(((q - r[indices[:, j]]) ** 2).sum(axis=1)) for j in range(k)], axis=1)
    order = np.argsort(dists, axis=1, kind="stable")
    return np.take_along_axis(dists, order, 1), np.take_along_axis(indices, order, 1)


def _average_ranks(values):
    """1-based ranks, ties get the average of the ranks they span."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    starts = np.cumsum(counts) - counts  # number of smaller values
    return (starts + (counts + 1) / 2.0)[inverse], counts


def mann_whitney_u(x, y):
    """Mann-Whitney U of x against y: #pairs (x_i > y_j) + 0.5 #ties. Ranges 0..len(x)*len(y)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if len(x) == 0 or len(y) == 0:
        raise ValueError("mann_whitney_u needs two non-empty samples")
    ranks, _ = _average_ranks(np.concatenate([x, y]))
    return float(ranks[: len(x)].sum() - len(x) * (len(x) + 1) / 2.0)


def mann_whitney_z(x, y):
    """Normal approximation of the Mann-Whitney U: z = (U - mn/2) / sd, with the tie correction.

    sd^2 = m n / 12 * ((N + 1) - sum(t^3 - t) / (N (N - 1))), N = m + n, t = size of each tie group.
    z < 0 means x tends to be smaller than y.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    m, n = len(x), len(y)
    u = mann_whitney_u(x, y)
    big_n = m + n
    _, counts = _average_ranks(np.concatenate([x, y]))
    ties = float((counts.astype(np.float64) ** 3 - counts).sum())
    var = m * n / 12.0 * ((big_n + 1) - ties / (big_n * (big_n - 1)))
    if var <= 0:
        return 0.0  # all values equal: no evidence either way
    return float((u - m * n / 2.0) / math.sqrt(var))


def memorisation_audit(generated, train, test, embed=None, num_closest=8):
    """Do generated images copy training images? Compare their distance to the training set with
    the distance of held-out test images (which the model never saw) to the training set.

    For each space (pixel, plus feature when `embed(images) -> features` is given):
    - gen_nn / test_nn: nearest-training-neighbour distances of generated / test images;
    - ct_z: the data-copying statistic C_T of Meehan, Chaudhuri & Dasgupta (2020), here in its
      global form (one cell, no k-means partition): the Mann-Whitney z-score of gen_nn against test_nn.
      z << 0 (say below -3): generated images sit closer to the training data than fresh data does,
      i.e. copying; z ~ 0: no evidence of copying; z >> 0: under-fitting (samples far from the data).
      A global test can miss copying that happens in one region only (the cell-wise version catches it).
    - copied_fraction: fraction of generated images closer to a training image than the 1st
      percentile of test-to-train distances (1% expected by chance);
    - closest: (generated index, train index, distance) of the `num_closest` closest pairs, to look at.
    Returns {space: {...}}. Use equal-sized generated and test sets for comparable distances.
    """
    spaces = {"pixel": (generated, train, test)}
    if embed is not None:
        spaces["feature"] = (embed(generated), embed(train), embed(test))
    report = {}
    for space, (g, tr, te) in spaces.items():
        gen_d, gen_i = nearest_neighbours(g, tr, space=space)
        test_d, _ = nearest_neighbours(te, tr, space=space)
        gen_d, gen_i, test_d = gen_d[:, 0], gen_i[:, 0], test_d[:, 0]
        threshold = float(np.percentile(test_d, 1))
        order = np.argsort(gen_d, kind="stable")[:num_closest]
        report[space] = {
            "gen_nn": gen_d,
            "test_nn": test_d,
            "gen_nn_median": float(np.median(gen_d)),
            "test_nn_median": float(np.median(test_d)),
            "ct_z": mann_whitney_z(gen_d, test_d),
            "copied_fraction": float(np.mean(gen_d < threshold)),
            "copy_threshold": threshold,
            "closest": [(int(i), int(gen_i[i]), float(gen_d[i])) for i in order],
        }
    return report


# ----------------------------------------------------------------------------- evaluator


def _split_real(real, name):
    """real images, or (images, labels) -> (images, labels or None)."""
    if real is None:
        return None, None
    if isinstance(real, (tuple, list)) and len(real) == 2:
        return np.asarray(real[0]), np.asarray(real[1])
    return np.asarray(real), None


class Evaluator:
    """Scores generated images with a Fashion-MNIST classifier.

    `classifier`: a functional or Sequential keras.Model taking [0, 1] images (N, 28, 28, 1), with a
    Dense layer named `feature_layer` ("features") and a softmax output. Images are compared on at
    most `sample_size` samples per set (drawn with `seed`), because FID depends on sample size:
    only compare numbers computed at the same size, and next to `noise_floor`. `copying=False`
    leaves out the data-copying z, whose size grows with the sample size: the course reads it at
    the model cards' size only.
    """

    def __init__(self, classifier, sample_size=10000, batch_size=500, feature_layer="features",
                 kid_subsets=100, kid_subset_size=1000, k=3, seed=0, copying=True):
        import keras

        try:
            features = classifier.get_layer(feature_layer).output
        except ValueError:
            names = [layer.name for layer in classifier.layers]
            raise ValueError(f"classifier has no layer named {feature_layer!r}; its layers are {names}") from None
        if not getattr(classifier, "inputs", None):
            raise ValueError("classifier must be a built functional or Sequential keras.Model (it has no inputs)")
        self.classifier = classifier
        inputs = classifier.inputs[0] if len(classifier.inputs) == 1 else classifier.inputs
        self._embed_model = keras.Model(inputs, [features, classifier.outputs[0]])
        self.image_shape = tuple(classifier.inputs[0].shape[1:])
        self.sample_size = int(sample_size)
        self.batch_size = int(batch_size)
        self.kid_subsets = kid_subsets
        self.kid_subset_size = kid_subset_size
        self.k = k
        self.seed = seed
        self.copying = bool(copying)

    def _prepare(self, images, name):
        import keras

        from prodgen_lessons.data import as_float, product_grey

        x = as_float(images, "unit", given="unit", name=name)
        h, w, c = self.image_shape
        if x.shape[-1] == 3 and c == 1:  # colour products on white, judged by the grey classifier
            x = product_grey(x)
        elif x.shape[-1] != c:  # grey images, judged by a colour classifier
            x = np.repeat(x, c, axis=-1)
        if x.shape[1:3] != (h, w):
            x = keras.ops.convert_to_numpy(
                keras.ops.image.resize(x, (h, w), interpolation="bilinear", antialias=True)
            )
        return np.clip(x, 0.0, 1.0)

    def embed(self, images, name="images"):
        """(features float64 (N, D), probs float64 (N, num_classes)), computed in batches."""
        import keras

        x = self._prepare(images, name)
        feats, probs = [], []
        for i in range(0, len(x), self.batch_size):
            f, p = self._embed_model(x[i : i + self.batch_size], training=False)
            feats.append(keras.ops.convert_to_numpy(f))
            probs.append(keras.ops.convert_to_numpy(p))
        return np.concatenate(feats).astype(np.float64), np.concatenate(probs).astype(np.float64)

    def _subsample(self, n, size, offset=0):
        if n <= size:
            return np.arange(n)
        return np.sort(np.random.default_rng(self.seed + offset).choice(n, size, replace=False))

    def _score(self, gen_feats, gen_probs, gen_labels, ref_feats, ref_probs, ref_labels):
        """All metrics of a (generated-like) set against a reference set, both already embedded."""
        out = {}
        out["fid"] = fid(gen_feats, ref_feats)
        out["kid"], out["kid_std"] = kid(gen_feats, ref_feats, subsets=self.kid_subsets,
                                         subset_size=self.kid_subset_size, seed=self.seed)
        out["is"], out["is_std"] = inception_score(gen_probs, splits=min(10, len(gen_probs)))
        out["precision"], out["recall"] = precision_recall(ref_feats, gen_feats, k=self.k)
        num_classes = gen_probs.shape[1]
        if gen_labels is not None:
            out["conditional_accuracy"] = conditional_accuracy(gen_probs, gen_labels)
            out["conditional_accuracy_per_category"] = per_category_accuracy(gen_probs, gen_labels, num_classes)
        else:
            out["conditional_accuracy"] = float("nan")
        # group by requested category, else by what the classifier sees
        g_lab = gen_labels if gen_labels is not None else gen_probs.argmax(1)
        r_lab = ref_labels if ref_labels is not None else ref_probs.argmax(1)
        div = per_category_diversity(gen_feats, g_lab, ref_feats, r_lab, num_classes=num_classes, seed=self.seed)
        out["diversity"] = float(np.nanmean(div)) if np.any(np.isfinite(div)) else float("nan")
        out["diversity_per_category"] = div
        out["sample_size"] = int(len(gen_feats))
        return out

    def _copying(self, gen_feats, heldout_feats, ref_feats):
        gen_d, _ = nearest_neighbours(gen_feats, ref_feats, space="feature")
        test_d, _ = nearest_neighbours(heldout_feats, ref_feats, space="feature")
        threshold = np.percentile(test_d[:, 0], 1)
        return {"copying_z": mann_whitney_z(gen_d[:, 0], test_d[:, 0]),
                "copied_fraction": float(np.mean(gen_d[:, 0] < threshold))}

    def evaluate(self, generated_images01, requested_labels=None, real_train=None, real_test=None):
        """Metrics of generated images against real training images.

        real_train / real_test: images, or (images, labels) tuples (labels give the real per-category
        diversity; without them the classifier's predictions group the images). With real_test, the
        feature-space data-copying z (`copying_z`, see `memorisation_audit`) and `copied_fraction`
        are added. Returns a dict; see `format_report`.
        """
        train_x, train_y = _split_real(real_train, "real_train")
        if train_x is None:
            raise ValueError("evaluate needs real_train images (the reference distribution)")
        gen = np.asarray(generated_images01)
        labels = None
        if requested_labels is not None:
            labels = _as_labels(requested_labels, len(gen), "requested_labels")
        gi = self._subsample(len(gen), self.sample_size, 1)
        ri = self._subsample(len(train_x), self.sample_size, 2)
        g_f, g_p = self.embed(gen[gi], "generated_images01")
        r_f, r_p = self.embed(train_x[ri], "real_train")
        out = self._score(g_f, g_p, None if labels is None else labels[gi],
                          r_f, r_p, None if train_y is None else train_y[ri])
        test_x, _ = _split_real(real_test, "real_test")
        if test_x is not None and self.copying:
            ti = self._subsample(len(test_x), self.sample_size, 3)
            t_f, _ = self.embed(test_x[ti], "real_test")
            out.update(self._copying(g_f, t_f, r_f))
        return out

    def noise_floor(self, real_train, real_test, sample_size=None):
        """The same metrics for real test images scored as if generated, against real training images.

        This is what a perfect generator (fresh samples of the data distribution) would get at this
        sample size: FID/KID are not 0, precision/recall not 1. Pass `sample_size` equal to the number
        of generated images evaluated if that was below `self.sample_size`. With test labels, the
        conditional accuracy is the classifier's own test accuracy (the ceiling for a generator).
        The copying z compares one half of the test sample with the other half (expected ~0).
        """
        size = self.sample_size if sample_size is None else int(sample_size)
        train_x, train_y = _split_real(real_train, "real_train")
        test_x, test_y = _split_real(real_test, "real_test")
        if train_x is None or test_x is None:
            raise ValueError("noise_floor needs both real_train and real_test images")
        ti = self._subsample(len(test_x), size, 1)
        ri = self._subsample(len(train_x), size, 2)
        t_f, t_p = self.embed(test_x[ti], "real_test")
        r_f, r_p = self.embed(train_x[ri], "real_train")
        out = self._score(t_f, t_p, None if test_y is None else test_y[ti],
                          r_f, r_p, None if train_y is None else train_y[ri])
        half = len(t_f) // 2
        if half >= 2 and self.copying:
            out.update(self._copying(t_f[:half], t_f[half:], r_f))
        return out


_REPORT_ROWS = [
    # key, label, format, which way is better
    ("fid", "FID", "{:.2f}", "lower"),
    ("fid2", "FID, 2nd network", "{:.2f}", "lower"),
    ("kid", "KID", "{:.4f}", "lower"),
    ("is", "Inception Score", "{:.2f}", "higher"),
    ("precision", "precision", "{:.3f}", "higher"),
    ("recall", "recall", "{:.3f}", "higher"),
    ("conditional_accuracy", "conditional accuracy", "{:.3f}", "higher"),
    ("diversity", "diversity (vs real)", "{:.3f}", "~1"),
    ("copying_z", "copying z (C_T)", "{:.2f}", "~0, << 0 copies"),
    ("copied_fraction", "copied fraction", "{:.3f}", "~0.01"),
    ("cycle_error", "cycle error |a - G_ba(G_ab(a))|", "{:.4f}", "lower"),
    ("code_purity", "code purity (one-to-one)", "{:.3f}", "higher"),
    ("colour_compliance", "colour compliance", "{:.3f}", "higher"),
    ("sample_size", "sample size", "{:d}", ""),
]


class Reference:
    """Real photos embedded once by each judge, {"fid": classifier's Evaluator, "fid2": second's}:
    `score` gives any images' FID against them in every judge's features, and with `labels` the
    share the first judge assigns to the requested category. A large reference embedded once lowers
    every FID's noise floor at no cost per scored run."""

    def __init__(self, judges, photos):
        self.judges = dict(judges)
        self.features = {key: judge.embed(photos, "photos")[0] for key, judge in self.judges.items()}

    def score(self, images, labels=None):
        result = {}
        for i, (key, judge) in enumerate(self.judges.items()):
            features, probs = judge.embed(images)
            result[key] = fid(features, self.features[key])
            if i == 0 and labels is not None:
                result["accuracy"] = conditional_accuracy(probs, labels)
        return result


def format_report(metrics, floor=None):
    """A small aligned text table of `Evaluator.evaluate` output, with the noise floor beside it.

    Returns the table as a string: `print(format_report(m, floor))`. Missing or NaN values show "-".
    """
    def cell(d, key, fmt):
        if d is None or key not in d:
            return "-"
        v = d[key]
        if v is None or (isinstance(v, float) and not math.isfinite(v)):  # None: NaN read back from a card
            return "-"
        text = fmt.format(int(v) if fmt == "{:d}" else float(v))
        return text.lstrip("-") if float(text) == 0 else text  # no "-0.0000"

    rows = [("metric", "value", "noise floor", "better")]
    for key, label, fmt, better in _REPORT_ROWS:
        if key not in metrics and (floor is None or key not in floor):
            continue
        rows.append((label, cell(metrics, key, fmt), cell(floor, key, fmt), better))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for j, r in enumerate(rows):
        lines.append(f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}".rstrip())
        if j == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- a model, measured

SAMPLE_SIZE = 5000  # images per set for every shipped metric (FID depends on it)


def evaluate_model(trainer, model, catalogue, classifier, second=None, sample_size=SAMPLE_SIZE,
                   seed=0, domains=None):
    """Every metric of a trained model against `catalogue`'s real images, and the noise floor.

    A generator is scored on `sample_size` samples (cycling through the categories; the
    conditional accuracy for conditional models), a translator (CycleGAN) on the held-out images of
    its first domain, translated, against real images of the second. `classifier` supplies the
    feature space; `second`, an independent network, gives the FID again as "fid2". The judges are
    handed in, never loaded here: `pretrained.judges(catalogue)` gives the shipped ones for
    Fashion-MNIST; another catalogue needs its own (`prodgen train classifier --data FOLDER`).
    InfoGAN also gets `infogan_codes`, a translator its cycle error. Returns (result, floor) dicts
    for `format_report`.
    """
    from prodgen_lessons import models
    from prodgen_lessons.data import as_float
    from prodgen_lessons.models.cyclegan import DEFAULT_DOMAINS

    if classifier is None:
        raise ValueError("evaluate_model needs a classifier whose features it measures in: "
                         "pretrained.judges(catalogue) gives the shipped ones for Fashion-MNIST")
    s = models.spec(model)

    def real(split, category=None):  # a catalogue in memory is subsampled by the Evaluator
        return catalogue.take(split, n=None if catalogue.in_memory else sample_size, seed=seed, category=category)

    if s.kind == "translator":
        src, dst = (catalogue.category_index(d) for d in domains or DEFAULT_DOMAINS)
        sources = catalogue.take("test", category=src)[0]
        fakes = trainer.translate(sources, "a2b")
        labels = np.full(len(fakes), dst)
        real_train, real_test = real("train", dst), real("test", dst)
        sample_size = min(len(fakes), sample_size)
    else:
        # an equal number per category from a conditional model; an unconditional one draws its own
        labels = np.arange(sample_size) % catalogue.num_classes if s.conditional else None
        fakes = trainer.sample(sample_size, labels=labels, seed=seed)
        real_train, real_test = real("train"), real("test")
    evaluator = Evaluator(classifier, sample_size=sample_size, seed=seed)
    result = evaluator.evaluate(fakes, labels, real_train, real_test)
    floor = evaluator.noise_floor(real_train, real_test)
    if second is not None:
        judge = Evaluator(second, sample_size=sample_size, seed=seed)
        result["fid2"] = judge.evaluate(fakes, None, real_train)["fid"]
        floor["fid2"] = judge.noise_floor(real_train, real_test)["fid"]
    if hasattr(trainer, "num_continuous"):  # InfoGAN: do its codes mean something?
        result.update(infogan_codes(trainer, classifier, seed=seed))
    if hasattr(trainer, "colour_compliance"):  # a second condition: is the colour the one asked for?
        result["colour_compliance"] = trainer.colour_compliance(min(sample_size, 2000), seed=seed)
    if s.kind == "translator":  # how much of the input survives the round trip a -> b -> a
        back = trainer.translate(as_float(fakes, "tanh", given="unit"), "b2a")
        result["cycle_error"] = float(np.mean(np.abs(back - as_float(sources))))
    return result, floor


def infogan_codes(trainer, classifier, n=2000, steps=5, seed=0):
    """What an InfoGAN's codes control: the purity of its categorical code (best one-to-one
    matching with the categories the classifier sees), and the mean product width and brightness
    as each continuous code sweeps from -1 to 1 (the others at 0, the same noise and categories)."""
    codes = np.arange(n) % trainer.num_categories
    seen = classifier.predict(trainer.sample(n, codes={"category": codes}, seed=seed), batch_size=500, verbose=0)
    purity, _ = code_purity(codes, seen, num_categories=max(trainer.num_categories, seen.shape[1]))
    out = {"code_purity": purity}
    m = n // steps
    for j in range(trainer.num_continuous):
        width, brightness = [], []
        for value in np.linspace(-1, 1, steps):
            continuous = np.zeros((m, trainer.num_continuous), "float32")
            continuous[:, j] = value
            images = trainer.sample(m, codes={"category": codes[:m], "continuous": continuous}, seed=seed)
            width.append(float(product_width(images).mean()))
            brightness.append(float(product_brightness(images).mean()))
        out[f"continuous_{j}_width"], out[f"continuous_{j}_brightness"] = width, brightness
    return out
