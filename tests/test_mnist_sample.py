"""The real MNIST digits shipped in tests/data/mnist-sample: small, real, credited, and what the README says."""

import numpy as np

from mnist_fixtures import SAMPLE, SAMPLE_SIZE, sample_digits, shared_test_set

# MNIST's published test set begins with these labels (the digits LeCun's page and every tutorial show first).
FIRST_TEST_LABELS = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_the_sample_is_small_real_and_has_every_class():
    files = sorted(SAMPLE.glob("*.gz"))
    assert [f.name for f in files] == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert sum(f.stat().st_size for f in files) < 1_000_000, "the one dataset file the project commits stays small"
    images, labels = sample_digits()
    assert images.shape == (SAMPLE_SIZE, 28, 28) and labels.shape == (SAMPLE_SIZE,)
    assert labels[:10].tolist() == FIRST_TEST_LABELS
    assert np.bincount(labels, minlength=10).min() >= 150
    # Near MNIST's pixel mean (0.1307 over the training set; these 2,000 test digits give about 0.121):
    # blank (0) or random (0.5) images would be far off.
    assert abs(images.mean() / 255 - 0.1307) < 0.02


def test_the_sample_carries_its_attribution_and_licence():
    note = (SAMPLE / "README.md").read_text(encoding="utf-8")
    for needed in ("LeCun", "Cortes", "Burges", "CC BY-SA 3.0", "creativecommons.org/licenses/by-sa/3.0",
                   f"first {SAMPLE_SIZE:,} images"):
        assert needed in note


def test_the_sample_is_the_first_published_test_digits_unchanged():
    images, labels = shared_test_set()  # the full published test set, where ../shared/mnist is present
    sample_images, sample_labels = sample_digits()
    assert np.array_equal(sample_images, images[:SAMPLE_SIZE])
    assert np.array_equal(sample_labels, labels[:SAMPLE_SIZE])
