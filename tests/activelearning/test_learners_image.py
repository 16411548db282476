"""The torch image learners on real digits, their embeddings, a local-weights backbone,
and the autograd gradient norms that expected gradient length reads."""
import pickle
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from activelearning.learners import ImageEmbeddingClassifier, SmallCNNClassifier, torch_gradient_norms
from activelearning.learners.image import as_images

DIGITS_CSV = Path("/work/shared/datasets/sklearn_digits/digits.csv")


@pytest.fixture(scope="module")
def digits():
    """The shared export (`sklearn_index,label,p0..p63`, pixels 0-16); sklearn's bundled
    copy where the export is absent. A fixed split: 300 to train, the rest held out."""
    if DIGITS_CSV.exists():
        table = np.loadtxt(DIGITS_CSV, delimiter=",", skiprows=1)
        X, y = table[:, 2:].reshape(-1, 8, 8), table[:, 1].astype(int)
    else:
        X, y = load_digits(return_X_y=True)
        X = X.reshape(-1, 8, 8)
    order = np.random.default_rng(0).permutation(len(y))
    train, test = order[:300], order[300:]
    return X[train], y[train], X[test], y[test]


@pytest.fixture(scope="module")
def cnn(digits):
    X, y, _, _ = digits
    SmallCNNClassifier(epochs=1, min_steps=1).fit(X[:20], y[:20])  # torch's one-off start-up, not the fit
    started = time.perf_counter()
    model = SmallCNNClassifier(random_state=0).fit(X, y)
    return model, time.perf_counter() - started


def test_the_cnn_learns_digits_well_above_chance_in_seconds(digits, cnn):
    _, _, X_test, y_test = digits
    model, seconds = cnn
    accuracy = np.mean(model.predict(X_test) == y_test)
    assert accuracy > 0.85, accuracy  # chance is 0.1
    assert seconds < 6.0, seconds  # ~0.6 s on one thread; the bound only catches a runaway
    assert list(model.classes_) == list(range(10))


def test_the_cnn_takes_flat_rows_and_channel_first_images_alike(digits, cnn):
    X, _, _, _ = digits
    model, _ = cnn
    expected = model.predict_proba(X[:5])
    assert np.allclose(model.predict_proba(X[:5].reshape(5, 64)), expected)
    assert np.allclose(model.predict_proba(X[:5, None]), expected)
    with pytest.raises(ValueError, match="fitted on"):
        model.predict_proba(np.zeros((2, 1, 10, 10)))


def test_the_cnn_embeds_with_its_penultimate_layer(digits, cnn):
    X, _, _, _ = digits
    model, _ = cnn
    vectors = model.embed(X[:7])
    assert vectors.shape == (7, model.hidden) and vectors.dtype == np.float32
    logits = vectors @ model.module_.head.weight.detach().numpy().T + model.module_.head.bias.detach().numpy()
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    assert np.allclose(softmax / softmax.sum(axis=1, keepdims=True), model.predict_proba(X[:7]), atol=1e-5)


def test_a_fitted_cnn_survives_pickling(digits, cnn):
    X, _, _, _ = digits
    model, _ = cnn
    assert np.allclose(pickle.loads(pickle.dumps(model)).predict_proba(X[:9]), model.predict_proba(X[:9]))


def test_as_images_reads_the_usual_layouts():
    assert as_images(np.zeros((2, 64))).shape == (2, 1, 8, 8)
    assert as_images(np.zeros((2, 28, 28))).shape == (2, 1, 28, 28)
    assert as_images(np.zeros((2, 12, 12, 3))).shape == (2, 3, 12, 12)
    assert as_images(np.zeros((2, 3 * 6 * 6)), image_shape=(3, 6, 6)).shape == (2, 3, 6, 6)
    with pytest.raises(ValueError, match="image_shape"):
        as_images(np.zeros((2, 60)))


def test_the_cnn_fits_small_rgb_images():
    rng = np.random.default_rng(0)
    X = rng.random((24, 12, 12, 3)).astype(np.float32)
    y = np.repeat(["red", "blue"], 12)
    X[y == "red", :, :, 0] += 1.0
    model = SmallCNNClassifier(random_state=1).fit(X, y)
    assert model.predict_proba(X).shape == (24, 2)
    assert np.mean(model.predict(X) == y) > 0.9


def test_the_embedding_learner_is_accurate_and_its_embeddings_do_not_depend_on_the_fit(digits):
    X, y, X_test, y_test = digits
    first = ImageEmbeddingClassifier(random_state=0).fit(X, y)
    other = ImageEmbeddingClassifier(random_state=5).fit(X[:100], y[:100])
    assert np.mean(first.predict(X_test) == y_test) > 0.85
    assert np.array_equal(first.embed(X_test[:5]), other.embed(X_test[:5]))
    assert first.embed(X_test[:5]).shape == (5, 64 * 16)
    restored = pickle.loads(pickle.dumps(first))
    assert np.allclose(restored.predict_proba(X_test[:5]), first.predict_proba(X_test[:5]))


def test_the_embedding_learner_loads_resnet18_weights_from_a_local_file_only(tmp_path, digits, monkeypatch):
    import torch  # noqa: TID251 - the test builds a weights file as a user would
    import torchvision

    X, y, _, _ = digits
    path = tmp_path / "resnet18.pth"
    with torch.random.fork_rng():
        torch.manual_seed(0)
        torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)

    def no_download(*args, **kwargs):
        raise AssertionError("weights must never be downloaded")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    model = ImageEmbeddingClassifier(weights_path=str(path), input_size=32).fit(X[:40], y[:40])
    assert model.embed(X[:3]).shape == (3, 512)
    assert model.predict_proba(X[:3]).shape == (3, len(model.classes_))


def _closed_form(proba: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Softmax regression: the gradient for label j is (p - e_j) x [h, 1]."""
    k = proba.shape[1]
    return np.linalg.norm(proba[:, None, :] - np.eye(k)[None], axis=2) * np.sqrt((features**2).sum(axis=1) + 1)[:, None]


def test_gradient_norms_of_the_cnn_match_the_closed_form_of_its_last_layer(digits, cnn):
    _, _, X_test, _ = digits
    model, _ = cnn
    norms = torch_gradient_norms(model, X_test[:50])
    assert norms.shape == (50, 10)
    assert (norms >= 0).all()
    expected = _closed_form(model.predict_proba(X_test[:50]), model.embed(X_test[:50]))
    assert np.allclose(norms, expected, rtol=1e-3, atol=1e-5)


def test_a_confidently_right_item_has_a_smaller_expected_gradient_than_an_uncertain_one(digits, cnn):
    _, _, X_test, y_test = digits
    model, _ = cnn
    proba = model.predict_proba(X_test)
    expected_length = (proba * torch_gradient_norms(model, X_test)).sum(axis=1)
    right = np.flatnonzero(model.classes_[proba.argmax(axis=1)] == y_test)
    confident = right[proba[right].max(axis=1).argmax()]
    uncertain = proba.max(axis=1).argmin()
    assert proba[uncertain].max() < 0.9 < proba[confident].max()
    assert expected_length[confident] < expected_length[uncertain]
    assert expected_length[confident] < np.median(expected_length)


def test_gradient_norms_of_a_binary_logistic_head_use_its_single_row_of_weights(digits):
    X, y, _, _ = digits
    keep = y < 2
    model = ImageEmbeddingClassifier().fit(X[keep], y[keep])
    norms = torch_gradient_norms(model, X[keep][:10])
    assert norms.shape == (10, 2)
    proba = model.predict_proba(X[keep][:10])
    features, _, _ = model.last_layer(X[keep][:10])
    # One weight row: the gradient is (p1 - y1) x [h, 1], i.e. the softmax form over sqrt(2).
    assert np.allclose(norms, _closed_form(proba, features) / np.sqrt(2), rtol=1e-3)


def test_gradient_norms_of_a_plain_torch_module_use_its_last_linear_layer():
    import torch  # noqa: TID251 - a plain torch module is what this case is about
    from torch import nn  # noqa: TID251

    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    X = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    norms = torch_gradient_norms(module, X)
    with torch.no_grad():
        hidden = module[1](module[0](torch.from_numpy(X))).numpy()
        proba = module(torch.from_numpy(X)).softmax(dim=1).numpy()
    assert np.allclose(norms, _closed_form(proba, hidden), rtol=1e-4)


def test_a_last_layer_without_bias_contributes_only_its_weights():
    import torch  # noqa: TID251 - a plain torch module is what this case is about
    from torch import nn  # noqa: TID251

    torch.manual_seed(1)
    module = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3, bias=False))
    X = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    with torch.no_grad():
        hidden = module[1](module[0](torch.from_numpy(X))).numpy()
        proba = module(torch.from_numpy(X)).softmax(dim=1).numpy()
    expected = np.linalg.norm(proba[:, None, :] - np.eye(3)[None], axis=2) * np.linalg.norm(hidden, axis=1)[:, None]
    assert np.allclose(torch_gradient_norms(module, X), expected, rtol=1e-4)
