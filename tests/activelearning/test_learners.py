"""The learner registry, the contract every registered learner keeps, the committee, and
the closed-form feature norms. Image training and MiniLM have their own
test_learners_*.py files."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from activelearning.learners import (
    LEARNERS,
    Committee,
    LearnerSpec,
    build_features,
    feature_sq_norms,
    learner_choices,
    make_classifier,
    tfidf_svd,
)
from activelearning.learners.committee import stratified_bootstrap

ROOT = Path(__file__).resolve().parents[2]
# Labels in neither sorted nor first-seen order, as strings the way the projects store them.
NAMES = np.array(["zebra", "ant", "moth"])

TEXTS = {
    "zebra": ["stripes on the savanna", "black and white stripes", "zebra herd grazing", "striped horse runs"],
    "ant": ["tiny ant colony", "ants carry leaves", "the anthill is busy", "worker ants march"],
    "moth": ["moth near the lamp", "night moth wings", "a moth flutters at night", "grey moth on the wall"],
}


def _tfidf_data():
    texts, labels = [], []
    for round_ in range(2):
        for name in NAMES:
            for text in TEXTS[name]:
                texts.append(f"{text} {round_}")
                labels.append(name)
    matrix = build_features("contract", np.arange(len(texts)), texts).matrix
    return matrix, np.array(labels)


def _embedding_data():
    """Stand-in for stored MiniLM rows: unit vectors around one centre per class (the
    learner only ever sees the matrix; the real model is exercised in test_learners_embeddings)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 384))
    labels = np.repeat(NAMES, 12)
    vectors = centres[np.repeat(np.arange(3), 12)] + 0.8 * rng.normal(size=(36, 384))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32), labels


def _pixel_data():
    X, y = load_digits(return_X_y=True)
    keep = np.flatnonzero(np.isin(y, [0, 1, 7]))[:60]
    return X[keep].reshape(-1, 8, 8), NAMES[np.searchsorted([0, 1, 7], y[keep])]


DATA = {"tfidf": _tfidf_data, "sentence_embedding": _embedding_data, "pixels": _pixel_data}


def test_the_registry_names_the_four_learners_with_their_feature_types():
    assert {key: (spec.kind, spec.features) for key, spec in LEARNERS.items()} == {
        "tfidf_logreg": ("text", "tfidf"),
        "minilm_logreg": ("text", "sentence_embedding"),
        "image_cnn": ("image", "pixels"),
        "image_embedding_logreg": ("image", "pixels"),
    }
    assert LEARNERS["tfidf_logreg"].factory(3).get_params() == make_classifier(3).get_params()
    assert all(spec.key == key and spec.label and spec.description for key, spec in LEARNERS.items())


def test_learner_choices_filter_by_kind():
    assert [key for key, _ in learner_choices("image")] == ["image_cnn", "image_embedding_logreg"]
    assert [key for key, _ in learner_choices("text")] == ["tfidf_logreg", "minilm_logreg"]
    assert [key for key, _ in learner_choices()] == list(LEARNERS)


def test_a_spec_with_an_unknown_feature_type_is_refused():
    with pytest.raises(ValueError, match="features"):
        LearnerSpec("x", "X", "text", "bag_of_words", make_classifier)


def test_importing_the_learners_does_not_import_torch():
    code = "import sys, activelearning.learners; print(sorted({'torch', 'sentence_transformers'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("key", list(LEARNERS))
def test_every_learner_keeps_the_estimator_contract(key):
    spec = LEARNERS[key]
    X, y = DATA[spec.features]()
    fresh = spec.factory(3)
    with pytest.raises(NotFittedError):
        check_is_fitted(fresh)
    assert spec.factory(3) is not fresh
    assert clone(fresh).get_params() == fresh.get_params()

    model = spec.factory(3)
    assert model.fit(X, y) is model
    assert list(model.classes_) == sorted(set(y.tolist()))
    proba = model.predict_proba(X)
    assert proba.shape == (len(y), len(model.classes_))
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert (proba >= 0).all()
    assert np.mean(model.classes_[proba.argmax(axis=1)] == y) > 0.8  # it fits its own training data
    assert set(model.predict(X[:5])) <= set(model.classes_)

    again = spec.factory(3).fit(X, y)
    assert np.allclose(again.predict_proba(X), proba, atol=1e-6)
    check_is_fitted(model)
    with pytest.raises(NotFittedError):
        check_is_fitted(spec.factory(3))  # fitting one model leaves the next one fresh


class Recording:
    """A stub learner that remembers what it saw; with `drop` it ignores that class."""

    seen: list = []

    def __init__(self, random_state=0, drop=None):
        self.random_state = random_state
        self.drop = drop

    def fit(self, X, y):
        keep = np.asarray(y) != self.drop
        Recording.seen.append((self.random_state, np.asarray(X)[keep], np.asarray(y)[keep]))
        self.classes_ = np.unique(np.asarray(y)[keep])
        return self

    def predict_proba(self, X):
        n, k = len(X), len(self.classes_)
        proba = np.tile(np.arange(1, k + 1, dtype=float), (n, 1))
        return proba / proba.sum(axis=1, keepdims=True)


def test_the_committee_fits_size_members_and_stacks_their_probabilities():
    X, y = _tfidf_data()
    committee = Committee(make_classifier, size=4, random_state=1)
    assert committee.fit(X, y) is committee
    members = committee.member_proba(X[:7])
    assert members.shape == (4, 7, 3)
    assert np.allclose(members.sum(axis=2), 1.0)
    assert np.allclose(committee.predict_proba(X[:7]), members.mean(axis=0))
    assert list(committee.classes_) == ["ant", "moth", "zebra"]
    assert not np.allclose(members[0], members[1])  # the resamples differ


def test_a_member_that_missed_a_class_gets_zeros_in_that_column():
    X = np.arange(12.0).reshape(6, 2)
    y = np.array(["b", "a", "c", "b", "a", "c"])
    committee = Committee(lambda seed: Recording(seed, drop="c" if seed % 2 else None), size=3, mode="seeds")
    committee.fit(X, y)
    assert list(committee.classes_) == ["a", "b", "c"]
    members = committee.member_proba(X[:2])
    assert members.shape == (3, 2, 3)
    assert np.allclose(members[1, :, 2], 0.0)  # seed 1 never saw "c"
    assert np.allclose(members[1], [[1 / 3, 2 / 3, 0.0]] * 2)  # "a" and "b" stay in their own columns
    assert np.allclose(members[0], [[1 / 6, 2 / 6, 3 / 6]] * 2)


def test_bagging_gives_every_member_every_class_even_a_class_with_one_example():
    Recording.seen = []
    X = np.arange(20.0).reshape(10, 2)
    y = np.array(["a"] * 6 + ["b"] * 3 + ["rare"])
    Committee(lambda seed: Recording(seed), size=6, mode="bagging", random_state=5).fit(X, y)
    assert [seed for seed, _, _ in Recording.seen] == [5, 6, 7, 8, 9, 10]
    for _, _rows, labels in Recording.seen:
        assert set(labels) == {"a", "b", "rare"}
        assert len(labels) == len(y)
        assert (labels == "rare").sum() == 1
    assert len({rows.tobytes() for _, rows, _ in Recording.seen}) > 1


def test_the_stratified_bootstrap_keeps_class_sizes():
    y = np.array([0] * 5 + [1] * 2 + [2])
    index = stratified_bootstrap(y, np.random.default_rng(0))
    assert np.bincount(y[index]).tolist() == [5, 2, 1]


def test_seed_mode_fits_every_member_on_all_the_data_with_its_own_seed():
    Recording.seen = []
    X = np.arange(8.0).reshape(4, 2)
    y = np.array([0, 1, 0, 1])
    Committee(lambda seed: Recording(seed), size=3, mode="seeds", random_state=10).fit(X, y)
    assert [seed for seed, _, _ in Recording.seen] == [10, 11, 12]
    assert all(np.array_equal(rows, X) for _, rows, _ in Recording.seen)


def test_an_unknown_committee_mode_is_refused():
    with pytest.raises(ValueError, match="mode"):
        Committee(make_classifier, mode="boosting").fit(np.eye(2), [0, 1])


def test_feature_sq_norms_of_sparse_dense_and_image_rows():
    dense = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0], [1.0, -2.0, 2.0]])
    assert feature_sq_norms(dense).tolist() == [25.0, 0.0, 9.0]
    assert feature_sq_norms(sparse.csr_matrix(dense)).tolist() == [25.0, 0.0, 9.0]
    images = np.arange(8.0).reshape(2, 2, 2)
    assert feature_sq_norms(images).tolist() == [14.0, 126.0]
    tfidf, _ = _tfidf_data()
    assert np.allclose(feature_sq_norms(tfidf), 1.0)  # TF-IDF rows are unit length
    assert feature_sq_norms(np.zeros((0, 3))).shape == (0,)



def test_the_tfidf_svd_is_fitted_on_a_seeded_sample_and_applied_in_float32_chunks(monkeypatch):
    from activelearning.learners import text

    fitted_rows = []

    class RecordingSVD(text.TruncatedSVD):
        def fit(self, X, y=None):
            fitted_rows.append(X.shape[0])
            return super().fit(X, y)

    monkeypatch.setattr(text, "TruncatedSVD", RecordingSVD)
    words = ["good", "bad", "film", "plot", "actor", "great", "awful", "music", "scene", "end", "slow", "fun"]
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(words, size=6)) + f" tag{n % 40}" for n in range(400)]
    matrix = build_features("svd-test", np.arange(len(texts)), texts).matrix
    every_row = tfidf_svd(matrix)  # 400 rows, below the sample size: fitted on every row
    sampled = tfidf_svd(matrix, sample_rows=150, chunk_rows=37)
    assert fitted_rows == [400, 150]
    assert every_row.dtype == sampled.dtype == np.float32
    assert every_row.shape == sampled.shape == (400, 64)
    np.testing.assert_array_equal(sampled, tfidf_svd(matrix, sample_rows=150, chunk_rows=37))  # seeded
    np.testing.assert_allclose(tfidf_svd(matrix, chunk_rows=37), every_row, rtol=1e-5, atol=1e-6)
