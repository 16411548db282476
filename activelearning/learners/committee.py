"""A committee of learners for query-by-committee: `size` members from one factory,
diversified by bootstrap resampling (bagging) or by their random seeds alone."""
from collections.abc import Callable
from typing import Any, Self

import numpy as np

MODES = ("bagging", "seeds")


def take_rows(X, index: np.ndarray):
    """Rows of a numpy array, sparse matrix or plain list."""
    if isinstance(X, list | tuple):
        return [X[i] for i in index]
    return X[index]


def stratified_bootstrap(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A bootstrap drawn within each class, with each class's own size: every class
    appears, in its original proportion. A class with one example always contributes
    that example (there is nothing else to draw), so the members still differ on the
    other classes and by their seeds."""
    y = np.asarray(y)
    picks = [rng.choice(np.flatnonzero(y == label), size=int(np.sum(y == label)), replace=True) for label in np.unique(y)]
    return np.sort(np.concatenate(picks))


class Committee:
    """`factory(random_state) -> estimator`, fitted `size` times. Member i gets seed
    random_state + i; in "bagging" mode it also sees its own stratified bootstrap.
    `classes_` is the union of the members' classes, and every probability column
    follows it (a member that never saw a class gives it probability 0)."""

    def __init__(self, factory: Callable[[int], Any], size: int = 5, mode: str = "bagging", random_state: int = 0):
        self.factory = factory
        self.size = size
        self.mode = mode
        self.random_state = random_state

    def fit(self, X, y) -> Self:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.size < 1:
            raise ValueError(f"a committee needs at least one member, got size={self.size}")
        y = np.asarray(y)
        rng = np.random.default_rng(self.random_state)
        members = []
        for i in range(self.size):
            seed = int(self.random_state) + i
            if self.mode == "bagging":
                index = stratified_bootstrap(y, rng)
                members.append(self.factory(seed).fit(take_rows(X, index), y[index]))
            else:
                members.append(self.factory(seed).fit(X, y))
        self.members_ = members
        self.classes_ = np.unique(np.concatenate([np.asarray(member.classes_) for member in members]))
        return self

    def member_proba(self, X) -> np.ndarray:
        """(members, n, len(classes_)): each member's probabilities, columns aligned."""
        first = self.members_[0].predict_proba(X)
        out = np.zeros((len(self.members_), first.shape[0], len(self.classes_)))
        for i, member in enumerate(self.members_):
            proba = first if i == 0 else member.predict_proba(X)
            out[i][:, np.searchsorted(self.classes_, np.asarray(member.classes_))] = proba
        return out

    def predict_proba(self, X) -> np.ndarray:
        return self.member_proba(X).mean(axis=0)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
