"""Shared test set-up: quiet TensorFlow, a seeded run, the data the tests may use."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def sample():
    """The bundled 1,200-image sample of real Fashion-MNIST (always available, offline)."""
    from prodgen_lessons.data import load_sample

    return load_sample()


@pytest.fixture(scope="session")
def fashion_mnist():
    """The full data set; the test is skipped where only the sample exists."""
    import warnings

    from prodgen_lessons.data import load_fashion_mnist

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_fashion_mnist()
    if ds.source.startswith("bundled sample"):
        pytest.skip("full Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    return ds
