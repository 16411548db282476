"""Image learners for small pictures (8x8 digits, 28x28 grey, small RGB), sklearn-style.

`SmallCNNClassifier` trains a small convolutional net from scratch each round;
`ImageEmbeddingClassifier` keeps a frozen extractor and fits only a logistic-regression
head, which is much cheaper per round and gives stable embeddings. torch is imported
inside the methods, so importing this module at Django start-up stays cheap.
"""
import math
import threading
from collections import OrderedDict
from typing import Self

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from ._torch import compute_threads, seeded

PREDICT_BATCH = 1024
EXTRACTOR_SEED = 0  # the random extractor is the same in every process, round and seed


def as_images(X, image_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """float32 (n, C, H, W) from (n, C, H, W), (n, H, W, C) with C in {1, 3, 4}, (n, H, W),
    or flat rows (n, d) with `image_shape` (H, W) or (C, H, W); flat square grey rows
    (d = s*s, e.g. the 64 pixels of sklearn's digits) need no shape."""
    images = np.asarray(X, dtype=np.float32)
    if images.ndim == 2:
        shape = tuple(image_shape) if image_shape else None
        if shape is None:
            side = math.isqrt(images.shape[1])
            if side * side != images.shape[1]:
                raise ValueError(f"cannot tell the image shape of {images.shape[1]} flat pixels; pass image_shape")
            shape = (side, side)
        images = images.reshape((len(images), *shape))
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4 and images.shape[1] not in (1, 3, 4) and images.shape[3] in (1, 3, 4):
        images = images.transpose(0, 3, 1, 2)
    if images.ndim != 4:
        raise ValueError(f"expected images as (n, H, W), (n, C, H, W) or flat rows, got shape {np.shape(X)}")
    return np.ascontiguousarray(images)


def _cnn(in_channels: int, size: tuple[int, int], channels: tuple[int, int], hidden: int, n_classes: int):
    """conv-pool-conv-pool to a 4x4 grid, one hidden layer, a linear head. The head is
    its own child so that embeddings (its input) and gradients (its weights) are easy to reach."""
    from torch import nn

    first, second = channels
    pool = nn.MaxPool2d(2) if min(size) >= 8 else nn.Identity()
    features = nn.Sequential(
        nn.Conv2d(in_channels, first, 3, padding=1), nn.ReLU(), pool,
        nn.Conv2d(first, second, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
        nn.Flatten(), nn.Linear(second * 16, hidden), nn.ReLU(),
    )
    return nn.Sequential(OrderedDict(features=features, head=nn.Linear(hidden, n_classes)))


def _class_weights(codes: np.ndarray, n_classes: int, mode: str | None) -> np.ndarray | None:
    if mode is None:
        return None
    if mode != "balanced":
        raise ValueError(f"class_weight must be None or 'balanced', got {mode!r}")
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    return len(codes) / (n_classes * np.maximum(counts, 1.0))


class SmallCNNClassifier(ClassifierMixin, BaseEstimator):
    """A small CNN trained from scratch with Adam for a fixed number of epochs.

    At least `min_steps` updates are made, so the first rounds (a dozen labels, one
    batch per epoch) are not left nearly untrained. Inputs are standardised with the
    training pixels' mean and spread, so 0-16 digits and 0-1 images behave alike.
    One thread by default: a model this small gains nothing from more, and spinning
    threads collapse when the cores are busy (300 digits: 0.6 s on one thread, 4-7 s
    on two while another process kept the 2-core machine busy).
    """

    def __init__(self, image_shape=None, channels=(16, 32), hidden=64, epochs=30, min_steps=150, batch_size=64,
                 learning_rate=3e-3, weight_decay=1e-4, class_weight="balanced", random_state=0, num_threads=1):
        self.image_shape = image_shape
        self.channels = channels
        self.hidden = hidden
        self.epochs = epochs
        self.min_steps = min_steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.class_weight = class_weight
        self.random_state = random_state
        self.num_threads = num_threads

    def _inputs(self, X):
        import torch

        images = as_images(X, self.image_shape)
        if hasattr(self, "image_shape_") and images.shape[1:] != self.image_shape_:
            raise ValueError(f"images of shape {images.shape[1:]}, the model was fitted on {self.image_shape_}")
        return torch.from_numpy((images - self.input_mean_) / self.input_std_)

    def fit(self, X, y) -> Self:
        import torch
        from torch import nn

        images = as_images(X, self.image_shape)
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        self.image_shape_ = images.shape[1:]
        self.input_mean_ = float(images.mean())
        self.input_std_ = float(images.std()) or 1.0
        inputs = torch.from_numpy((images - self.input_mean_) / self.input_std_)
        targets = torch.from_numpy(codes.astype(np.int64))
        weights = _class_weights(codes, len(self.classes_), self.class_weight)
        n = len(targets)
        per_epoch = math.ceil(n / self.batch_size)
        epochs = max(self.epochs, math.ceil(self.min_steps / per_epoch))

        with compute_threads(self.num_threads), seeded(self.random_state):
            module = _cnn(images.shape[1], images.shape[2:], tuple(self.channels), self.hidden, len(self.classes_))
            generator = torch.Generator().manual_seed(int(self.random_state or 0))
            loss_fn = nn.CrossEntropyLoss(weight=None if weights is None else torch.tensor(weights, dtype=torch.float32))
            optimiser = torch.optim.Adam(module.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
            module.train()
            for _ in range(epochs):
                order = torch.randperm(n, generator=generator)
                for start in range(0, n, self.batch_size):
                    batch = order[start:start + self.batch_size]
                    optimiser.zero_grad(set_to_none=True)
                    loss_fn(module(inputs[batch]), targets[batch]).backward()
                    optimiser.step()
        self.module_ = module.eval()
        self.n_epochs_ = epochs
        return self

    def _forward(self, X, part):
        import torch

        check_is_fitted(self, "module_")
        inputs = self._inputs(X)
        with compute_threads(self.num_threads), torch.no_grad():
            starts = range(0, max(len(inputs), 1), PREDICT_BATCH)  # an empty X still gives (0, k)
            return torch.cat([part(inputs[start:start + PREDICT_BATCH]) for start in starts])

    def predict_proba(self, X) -> np.ndarray:
        return self._forward(X, self.module_).double().softmax(dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def embed(self, X) -> np.ndarray:
        """The penultimate layer (input of the linear head): float32 (n, hidden)."""
        return self._forward(X, self.module_.features).numpy().astype(np.float32)

    def last_layer(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(head inputs (n, d), weight (k, d), bias (k,)) for `torch_gradient_norms`."""
        head = self.module_.head
        return self.embed(X), head.weight.detach().numpy(), head.bias.detach().numpy()


_extractors: dict[tuple, object] = {}
_extractor_lock = threading.Lock()


def _random_extractor(in_channels: int, filters: int):
    """One layer of fixed random 3x3 filters, rectified and average-pooled to a 4x4 grid.
    No bias, so scaling the pixels scales the features, which the head's scaler undoes."""
    from torch import nn

    with seeded(EXTRACTOR_SEED):
        conv = nn.Conv2d(in_channels, filters, 3, padding=1, bias=False)
    return nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten())


class _ResNetFeatures:
    """torchvision's resnet18 without its classifier, weights read from a local file
    (never downloaded): images min-max scaled, made RGB, resized, ImageNet-normalised."""

    batch_size = 128  # activations of 64x64 inputs: keep a batch within a few hundred MB

    def __init__(self, weights_path: str, input_size: int):
        import torch
        from torchvision.models import resnet18

        network = resnet18(weights=None)
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        network.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
        network.fc = torch.nn.Identity()
        self.network = network.eval()
        self.input_size = input_size
        self.mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        self.std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def __call__(self, images):
        from torch.nn import functional

        low = images.amin(dim=(1, 2, 3), keepdim=True)
        high = images.amax(dim=(1, 2, 3), keepdim=True)
        images = (images - low) / (high - low).clamp_min(1e-8)
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        images = images[:, :3]
        if images.shape[-2:] != (self.input_size, self.input_size):
            images = functional.interpolate(images, size=(self.input_size, self.input_size), mode="bilinear",
                                            align_corners=False)
        return self.network((images - self.mean) / self.std)


def _extractor(in_channels: int, filters: int, weights_path: str | None, input_size: int):
    """Built once per configuration and process: the extractor is frozen, so it is shared
    by every round and committee member and never pickled with a model."""
    key = (in_channels, filters, str(weights_path) if weights_path else None, input_size)
    with _extractor_lock:
        if key not in _extractors:
            if weights_path:
                _extractors[key] = _ResNetFeatures(str(weights_path), input_size)
            else:
                _extractors[key] = _random_extractor(in_channels, filters).eval()
        return _extractors[key]


class ImageEmbeddingClassifier(ClassifierMixin, BaseEstimator):
    """A frozen torch feature extractor and a logistic-regression head on its output.

    Without `weights_path` the extractor is a fixed, seeded layer of random conv filters
    (no training, nothing to download); with it, resnet18 loaded from that local file.
    Only the head is fitted, so `random_state` touches the head alone and embeddings
    are identical across rounds.
    """

    def __init__(self, image_shape=None, weights_path=None, filters=64, input_size=64, C=1.0, max_iter=2000,
                 class_weight="balanced", random_state=0, num_threads=1):
        self.image_shape = image_shape
        self.weights_path = weights_path
        self.filters = filters
        self.input_size = input_size
        self.C = C
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.random_state = random_state
        self.num_threads = num_threads

    def embed(self, X) -> np.ndarray:
        """The extractor's output, float32 (n, d); the same for every fit."""
        return self._embed_images(as_images(X, self.image_shape))

    def _embed_images(self, images: np.ndarray) -> np.ndarray:
        import torch

        extractor = _extractor(images.shape[1], self.filters, self.weights_path, self.input_size)
        inputs = torch.from_numpy(images)
        with compute_threads(self.num_threads), torch.no_grad():
            step = getattr(extractor, "batch_size", PREDICT_BATCH)
            return torch.cat([extractor(inputs[start:start + step]) for start in range(0, max(len(inputs), 1), step)]).numpy()

    def fit(self, X, y) -> Self:
        images = as_images(X, self.image_shape)
        self.image_shape_ = images.shape[1:]
        features = self._embed_images(images)
        self.scaler_ = StandardScaler().fit(features)
        head = LogisticRegression(
            C=self.C, max_iter=self.max_iter, class_weight=self.class_weight, random_state=self.random_state
        )
        with compute_threads(self.num_threads):
            self.head_ = head.fit(self.scaler_.transform(features), np.asarray(y))
        self.classes_ = self.head_.classes_
        return self

    def _head_inputs(self, X) -> np.ndarray:
        check_is_fitted(self, "head_")
        images = as_images(X, self.image_shape)
        if images.shape[1:] != self.image_shape_:
            raise ValueError(f"images of shape {images.shape[1:]}, the model was fitted on {self.image_shape_}")
        return self.scaler_.transform(self._embed_images(images))

    def predict_proba(self, X) -> np.ndarray:
        inputs = self._head_inputs(X)
        with compute_threads(self.num_threads):
            return self.head_.predict_proba(inputs)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def last_layer(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(scaled embeddings, coef_, intercept_): a binary head has one row of weights."""
        return self._head_inputs(X), self.head_.coef_, self.head_.intercept_


def make_cnn(random_state: int = 0) -> SmallCNNClassifier:
    return SmallCNNClassifier(random_state=random_state)


def make_image_embedding_classifier(random_state: int = 0) -> ImageEmbeddingClassifier:
    return ImageEmbeddingClassifier(random_state=random_state)
