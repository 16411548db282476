"""Query by committee: items the members disagree on (Seung et al. 1992; McCallum &
Nigam 1998). Input: member probabilities of shape (members, items, classes).

All measures are in bits, higher = more disagreement.
"""
import numpy as np

from .uncertainty import entropy
from .validation import check_committee


def consensus(committee: np.ndarray) -> np.ndarray:
    """The committee's averaged probabilities (items, classes)."""
    return check_committee(committee).mean(axis=0)


def vote_entropy(committee: np.ndarray) -> np.ndarray:
    """Entropy of the hard votes: each member votes for its argmax (first column on a
    tie); the share of votes per class is a distribution whose entropy is taken."""
    committee = check_committee(committee)
    members, n, k = committee.shape
    votes = committee.argmax(axis=2)  # (members, items)
    counts = np.zeros((n, k))
    np.add.at(counts, (np.broadcast_to(np.arange(n), votes.shape), votes), 1.0)
    return entropy(counts / members)


def consensus_entropy(committee: np.ndarray) -> np.ndarray:
    """Entropy of the averaged probabilities (soft vote entropy)."""
    return entropy(consensus(committee))


def _kl_to_consensus(committee: np.ndarray) -> np.ndarray:
    """KL(member || consensus) per member and item, shape (members, items)."""
    committee = check_committee(committee)
    mean = committee.mean(axis=0, keepdims=True)
    # Where a member gives p > 0 the consensus is at least p / members > 0: finite.
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(committee > 0, committee * np.log2(committee / np.where(mean > 0, mean, 1.0)), 0.0)
    return np.maximum(terms.sum(axis=2), 0.0)


def kl_to_consensus(committee: np.ndarray) -> np.ndarray:
    """Average over members of KL(member || consensus) (McCallum & Nigam)."""
    return _kl_to_consensus(committee).mean(axis=0)


def max_disagreement(committee: np.ndarray) -> np.ndarray:
    """The largest KL(member || consensus): one dissenting member is enough."""
    return _kl_to_consensus(committee).max(axis=0)
