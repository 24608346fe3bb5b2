"""Self-conditioned GAN: k-means, the clusters it trains on (pixels first, then D's features, each
cluster keeping its index), sampling by cluster frequency, and the clusters shipping with G."""

import keras
import numpy as np
import pytest

from prodgen_lessons import training
from prodgen_lessons.data import load_sample
from prodgen_lessons.models import dcgan, selfcond


def _tiny(clusters=3, **options):
    keras.utils.set_random_seed(0)
    return dcgan.build_dcgan(latent_dim=8, base_filters=8, hidden=16, precision="float32", clusters=clusters,
                             **options)


def _blobs(rng, n=90):  # three well separated groups of points
    group = np.arange(n) % 3
    return (np.eye(5)[group] * 4.0 + rng.normal(0, 0.3, (n, 5))).astype("float32"), group


def test_kmeans_finds_separated_groups():
    rng = np.random.default_rng(0)
    points, group = _blobs(rng)
    assigned, centres = selfcond.kmeans(points, selfcond.kmeans_plus_plus(points, 3, rng))
    assert len(set(zip(group, assigned))) == 3 and len(set(assigned)) == 3  # one cluster per group
    for g in range(3):
        assert np.allclose(centres[assigned[group == g][0]], points[group == g].mean(0), atol=1e-5)
    # by hand: 1-D points 0, 1, 10, 11 from centres 0 and 1 -> {0, 1} and {10, 11}
    assigned, centres = selfcond.kmeans(np.array([[0.0], [1.0], [10.0], [11.0]]), np.array([[0.0], [1.0]]))
    assert list(assigned) == [0, 0, 1, 1] and np.allclose(centres.ravel(), [0.5, 10.5])


def test_clusters_of_pixels_then_of_ds_features_keep_their_index():
    trainer = _tiny(clusters=3)
    images = np.random.default_rng(0).uniform(-1, 1, (96, 28, 28, 1)).astype("float32")
    labeller = trainer.self_conditioning(images, seed=0)
    labeller.set_model(trainer)
    labeller.set_params({"epochs": 3})
    labeller.on_train_begin()
    first = labeller.assigned.copy()
    assert np.array_equal(labeller.labels.numpy(), first)
    assert np.array_equal(trainer.cluster_sizes.numpy(), np.bincount(first, minlength=3))
    # the data pairs every image with its cluster
    x, labels = next(iter(labeller.dataset(batch_size=32, seed=0)))
    rows = [int(np.flatnonzero(np.all(images == im, axis=(1, 2, 3)))[0]) for im in x.numpy()]
    assert np.array_equal(labels.numpy(), first[rows])
    # re-clustering in D's features starts from the old clusters' means in those features
    features = trainer.features(images)
    means = np.stack([features[first == c].mean(0) for c in range(3)])
    expected, _ = selfcond.kmeans(features, means)
    labeller.on_epoch_end(0)
    assert np.array_equal(labeller.assigned, expected) and len(labeller.kept) == 1
    labeller.on_epoch_end(2)  # the last epoch: nobody would train on new clusters
    assert len(labeller.kept) == 1


def test_train_and_resume_on_the_clusters(tmp_path):
    data = load_sample().subset(256)
    options = dict(latent_dim=8, options=dict(base_filters=8, hidden=16, precision="float32", clusters=4))
    trainer, history, info = training.train("dcgan", data, epochs=1, batch_size=64, out_dir=tmp_path,
                                            verbose=0, **options)
    assert isinstance(trainer, selfcond.SelfConditionedGAN) and info["epochs_done"] == 1
    assert set(history) == {"g_loss", "d_loss", "d_acc"} and all(np.isfinite(v[-1]) for v in history.values())
    assert trainer.cluster_sizes.numpy().sum() == 256
    resumed, _, info = training.train("dcgan", data, epochs=2, batch_size=64, out_dir=tmp_path, resume=True,
                                      verbose=0, **options)
    assert info["epochs_done"] == 2 and resumed.cluster_sizes.numpy().sum() == 256


def test_sampling_draws_clusters_with_their_frequency():
    trainer = _tiny(clusters=4)
    assert np.allclose(trainer.cluster_frequencies(), 0.25)  # untrained: uniform
    trainer.cluster_sizes.assign([0.0, 0.0, 0.0, 7.0])  # only cluster 3 occurs
    assert np.allclose(trainer.sample(5, seed=1), trainer.sample(5, labels=3, seed=1))
    assert not np.allclose(trainer.sample(5, labels=0, seed=1), trainer.sample(5, labels=3, seed=1))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\]"):
        trainer.sample(2, labels=4)


def test_the_cluster_sizes_ship_with_the_generator(tmp_path):
    trainer = _tiny(clusters=4)
    trainer.cluster_sizes.assign([1.0, 2.0, 3.0, 4.0])
    trainer.generator.save_weights(tmp_path / "generator.weights.h5")
    shipped = _tiny(clusters=4)
    shipped.generator.load_weights(tmp_path / "generator.weights.h5")
    assert np.allclose(shipped.cluster_frequencies(), [0.1, 0.2, 0.3, 0.4])


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="hinge"):
        dcgan.build_dcgan(latent_dim=8, base_filters=8, clusters=4, loss="bce")
    with pytest.raises(ValueError, match="3 training images cannot make 4 clusters"):
        _tiny(clusters=4).self_conditioning(np.zeros((3, 28, 28, 1), "float32"))
    with pytest.raises(ValueError, match="clusters must be >= 2"):
        selfcond.build_selfcond_gan(latent_dim=8, base_filters=8, clusters=1)
