"""Large synthetic text pools for the benchmarks, built from the shared sentiment
sentences with variations (each variation keeps its source sentence's label).

Variations are chosen per item by a seeded generator: prefixes and suffixes from small
phrase lists, lower case, dropped / swapped / repeated words, changed punctuation, a
word borrowed from another sentence, and a numbered tag. The vocabulary therefore grows
a little with the pool (tags, borrowed-word bigrams) without being pure noise, which is
roughly what a real pool of near-duplicate reviews looks like to TF-IDF.
"""
from pathlib import Path

import numpy as np

SENTIMENT = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "sentiment_labelled_sentences"
PREFIXES = ["Honestly, ", "I think ", "Overall, ", "To be fair, ", "In short, ", "Well, ", "Update: ", "So ",
            "My take: ", "Frankly, ", "As expected, ", "Again, "]
SUFFIXES = [" Overall.", "!", "!!", " ...", " - that is all.", " Would say it again.", " (edited)", " :)",
            " Just saying.", " End of story.", " lol", " imo"]


def read_sentiment(folder: Path = SENTIMENT) -> tuple[list[str], np.ndarray]:
    """(texts, labels as int) of the shared sentiment files, split on '\\n' only."""
    texts, labels = [], []
    for path in sorted(folder.glob("*_labelled.txt")):
        for line in path.read_text(encoding="utf-8").split("\n"):
            if not line.strip():
                continue
            text, _, label = line.rpartition("\t")
            texts.append(text.strip())
            labels.append(int(label))
    return texts, np.asarray(labels, dtype=np.int64)


def _vary(text: str, ops: int, rng: np.random.Generator, donors: list[str], serial: int) -> str:
    words = text.split()
    for _ in range(ops):
        op = int(rng.integers(9))
        if op == 0:
            words = [PREFIXES[int(rng.integers(len(PREFIXES)))].strip()] + words
        elif op == 1:
            words = words + [SUFFIXES[int(rng.integers(len(SUFFIXES)))].strip()]
        elif op == 2:
            words = [w.lower() for w in words]
        elif op == 3 and len(words) > 3:
            del words[int(rng.integers(len(words)))]
        elif op == 4 and len(words) > 2:
            i = int(rng.integers(len(words) - 1))
            words[i], words[i + 1] = words[i + 1], words[i]
        elif op == 5 and words:
            i = int(rng.integers(len(words)))
            words.insert(i, words[i])
        elif op == 6 and words:
            words[-1] = words[-1].rstrip(".!?") + [".", "!", "?", "...", ""][int(rng.integers(5))]
        elif op == 7:
            donor = donors[int(rng.integers(len(donors)))].split()
            if donor:
                words.insert(int(rng.integers(len(words) + 1)), donor[int(rng.integers(len(donor)))])
        else:
            words.append(f"#{serial % 5000}")
    return " ".join(words)


def synthetic_pool(size: int, seed: int = 0, folder: Path = SENTIMENT) -> tuple[list[str], np.ndarray]:
    """`size` texts with labels: every source sentence first, then varied copies."""
    texts, labels = read_sentiment(folder)
    rng = np.random.default_rng(seed)
    out, out_labels = [], np.empty(size, dtype=np.int64)
    sources = rng.integers(len(texts), size=size)
    ops = rng.integers(1, 4, size=size)
    for i in range(size):
        source = i if i < len(texts) else int(sources[i])
        out.append(texts[source] if i < len(texts) else _vary(texts[source], int(ops[i]), rng, texts, i))
        out_labels[i] = labels[source]
    return out, out_labels
