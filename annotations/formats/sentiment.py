"""The sentiment dataset's `text<TAB>0|1` files (no Django, so benchmarks read them too)."""
from pathlib import Path


def read_sentiment_file(path: Path) -> list[tuple[str, str]]:
    """`text<TAB>0|1` per line; split on '\\n' only, as the dataset's notes ask."""
    pairs = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if "\t" not in line:
            continue
        text, label = line.rsplit("\t", 1)
        if text.strip() and label.strip() in {"0", "1"}:
            pairs.append((text.strip(), label.strip()))
    return pairs
