"""One round at 1,000,000 items: fit on 5,000 labels, score the whole pool, select 100.

    .venv/bin/python bench/scoring.py                  # 1,000,000 items (builds and caches the pool first)
    .venv/bin/python bench/scoring.py --items 100000   # smaller
    .venv/bin/python bench/scoring.py --profile        # also cProfile the selection of each strategy

Prints one JSON object (also written to bench/results/scoring-<UTC time>.json).

Every phase runs in its own fresh process, so each peak memory (ru_maxrss) belongs to
that phase alone:

1. build: a synthetic text pool (the shared sentiment sentences with variations, see
   bench/synthetic.py) and its TF-IDF matrix, with the app's `build_features` (fitted once
   per pool and cached by the worker, so timed apart); cached under bench/results/cache;
2. svd: the 64-d TruncatedSVD the worker uses as dense embeddings for TF-IDF pools
   (`learners.tfidf_svd`, which activelearning/features.py `tfidf_embeddings` calls and
   caches per pool, so timed apart);
3. nearest: what the worker keeps for core-set between rounds (features.py
   `nearest_labeled_sq`): each item's squared distance to its nearest labeled item, here
   as it stood before the last batch of 100 labels (timed apart: it is the cost of a
   core-set round that measures every label from scratch);
4. round, once per strategy (margin; the mix "margin:0.7,coreset:0.2,random:0.1"): load the
   cached matrix (and the embeddings), then what the worker's round does
   (activelearning/rounds.py): take the rows of the 5,000 labeled items, of the candidates
   (every other pool item), of a 300-item evaluation split and a 1,000-item stop set, and
   call `engine.run_round` (fit, score the pool in chunks, select, evaluate). A strategy
   that reads labeled embeddings runs twice: with the kept distances, updated with the
   100 new labels ("kept"), and measuring all 5,000 labels ("from scratch").
BLAS runs on one thread, as in the app's job workers.
"""
import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
RESULTS = ROOT / "bench" / "results"
CACHE = RESULTS / "cache"
MIX = "margin:0.7,coreset:0.2,random:0.1"


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def current_mb() -> float:
    with open("/proc/self/statm") as handle:
        return round(int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def _limit_blas():
    import scipy.linalg  # noqa: F401  (load scipy's OpenBLAS before limiting: the limit only reaches loaded libraries)
    import scipy.optimize  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")


def paths(items: int) -> dict:
    stem = CACHE / f"scoring-{items}"
    return {"matrix": Path(f"{stem}-tfidf.npz"), "labels": Path(f"{stem}-labels.npy"),
            "meta": Path(f"{stem}-build.json"), "svd": Path(f"{stem}-svd64.npy"), "svd_meta": Path(f"{stem}-svd.json"),
            "nearest": Path(f"{stem}-nearest.npy"), "nearest_meta": Path(f"{stem}-nearest.json")}


def split_rows(items: int, labeled: int) -> dict:
    """The rows of a round, as rounds.py takes them: evaluation split, labeled items,
    candidates (every other pool item) and the stop set (the first 1,000 pool items)."""
    import numpy as np

    order = np.random.default_rng(0).permutation(items)
    return {"eval": np.sort(order[:300]), "train": np.sort(order[300:300 + labeled]),
            "candidates": np.sort(order[300 + labeled:]), "stop": np.sort(order[300:])[:1000]}


def newest_labels(train_rows, batch: int):
    """The labels of the last batch: those the kept distances do not cover yet."""
    import numpy as np

    return np.sort(np.random.default_rng(1).choice(train_rows, size=min(batch, len(train_rows)), replace=False))


# --- phases (each in a child process) ---------------------------------------------------------

def phase_build(items: int) -> dict:
    import numpy as np
    from scipy import sparse
    from synthetic import synthetic_pool

    from activelearning.learners import build_features

    _limit_blas()
    files = paths(items)
    started = time.perf_counter()
    texts, labels = synthetic_pool(items, seed=2)
    generate_s = time.perf_counter() - started
    after_generate = peak_mb()
    started, cpu = time.perf_counter(), time.process_time()
    matrix = build_features("bench", np.arange(items), texts).matrix
    tfidf_s, tfidf_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    files["matrix"].parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sparse.save_npz(files["matrix"], matrix, compressed=False)
    np.save(files["labels"], labels)
    save_s = time.perf_counter() - started
    meta = {"items": items, "generate_s": round(generate_s, 2), "tfidf_s": round(tfidf_s, 2), "tfidf_cpu_s": round(tfidf_cpu_s, 2),
            "save_s": round(save_s, 2), "vocabulary": int(matrix.shape[1]), "nnz": int(matrix.nnz),
            "matrix_mb": round((matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes) / 2**20, 1),
            "peak_rss_mb_after_texts": after_generate, "peak_rss_mb": peak_mb(),
            "note": "peak includes the 1M Python strings of the pool, which the worker also holds while vectorising"}
    files["meta"].write_text(json.dumps(meta))
    return meta


def phase_svd(items: int) -> dict:
    import numpy as np
    from scipy import sparse

    _limit_blas()
    from activelearning.learners import tfidf_svd
    from activelearning.learners.text import SVD_SAMPLE_ROWS

    files = paths(items)
    matrix = sparse.load_npz(files["matrix"]).tocsr()
    loaded = peak_mb()
    started, cpu = time.perf_counter(), time.process_time()
    vectors = tfidf_svd(matrix)
    svd_s, svd_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    np.save(files["svd"], vectors)
    meta = {"svd_s": round(svd_s, 2), "svd_cpu_s": round(svd_cpu_s, 2), "shape": list(vectors.shape),
            "dtype": str(vectors.dtype), "fitted_on_rows": min(items, SVD_SAMPLE_ROWS),
            "embeddings_mb": round(vectors.nbytes / 2**20, 1), "peak_rss_mb_after_load": loaded,
            "peak_rss_mb": peak_mb(), "blas_threads": 1}
    files["svd_meta"].write_text(json.dumps(meta))
    return meta


def phase_nearest(items: int, labeled: int, batch: int) -> dict:
    import numpy as np

    _limit_blas()
    from activelearning.strategies.diversity import min_sq_distances

    files = paths(items)
    dense = np.load(files["svd"])
    train_rows = split_rows(items, labeled)["train"]
    covered = np.setdiff1d(train_rows, newest_labels(train_rows, batch))
    loaded = peak_mb()
    started, cpu = time.perf_counter(), time.process_time()
    nearest = min_sq_distances(dense, dense[covered])
    nearest_s, nearest_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    np.save(files["nearest"], nearest)
    meta = {"nearest_s": round(nearest_s, 2), "nearest_cpu_s": round(nearest_cpu_s, 2), "pool_rows": items,
            "labels_covered": int(len(covered)), "labeled": labeled, "batch": batch,
            "peak_rss_mb_after_load": loaded, "peak_rss_mb": peak_mb(), "blas_threads": 1}
    files["nearest_meta"].write_text(json.dumps(meta))
    return meta


def kept_distances(files: dict, dense, new_rows):
    """The worker's kept distances (features.nearest_labeled_sq), lowered by the new labels."""
    import numpy as np

    from activelearning.strategies.diversity import min_sq_distances

    nearest = np.load(files["nearest"])
    return np.minimum(nearest, min_sq_distances(dense, dense[new_rows]), out=nearest)


def phase_round(items: int, strategy: str, labeled: int, batch: int, profile: bool, nearest: str) -> dict:
    import numpy as np
    from scipy import sparse

    _limit_blas()
    from activelearning import engine
    from activelearning.config import strategy_params, validate_sampling
    from activelearning.simulate import strategy_spec
    from activelearning.strategies import EMBEDDINGS, LABELED_EMBEDDINGS, required_inputs

    files = paths(items)
    imported_mb = current_mb()
    started = time.perf_counter()
    matrix = sparse.load_npz(files["matrix"]).tocsr()
    labels = np.load(files["labels"])
    key, extra = strategy_spec(strategy)
    sampling = validate_sampling(extra, key)
    params = strategy_params(key, sampling, {})
    needs = required_inputs(key, params)
    dense = np.load(files["svd"]) if needs & {EMBEDDINGS, LABELED_EMBEDDINGS} else None
    load_s = time.perf_counter() - started
    loaded_mb = current_mb()

    rows = split_rows(items, labeled)
    eval_rows, train_rows, candidate_rows, stop_rows = rows["eval"], rows["train"], rows["candidates"], rows["stop"]
    new_rows = newest_labels(train_rows, batch)
    keep_distances = nearest == "kept" and LABELED_EMBEDDINGS in needs

    round_started = time.perf_counter()
    cpu_started = time.process_time()
    # What activelearning/rounds.py fit_score_select does with the cached matrix.
    problem = engine.Problem(
        train_X=matrix[train_rows], train_y=labels[train_rows], pool_X=matrix[candidate_rows],
        eval_X=matrix[eval_rows], eval_y=labels[eval_rows], stop_X=matrix[stop_rows],
        embeddings=(lambda: (dense[candidate_rows], dense[train_rows])) if dense is not None else None,
        labeled_sq_distances=(lambda: kept_distances(files, dense, new_rows)[candidate_rows]) if keep_distances else None,
    )
    prepare_s = time.perf_counter() - round_started
    settings = engine.Settings(strategy=key, batch_size=batch, learner="tfidf_logreg", sampling=sampling,
                               params=params, seed=labeled * 7919)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    outcome = engine.run_round(problem, settings)
    if profiler:
        profiler.disable()
    total_s = time.perf_counter() - round_started
    cpu_s = time.process_time() - cpu_started
    selection = outcome.selection
    result = {
        "strategy": strategy, "pool_items": int(len(candidate_rows)), "labeled": labeled, "batch": batch,
        "nearest_distances": ("kept, 100 new labels" if keep_distances else "from scratch")
        if LABELED_EMBEDDINGS in needs else None,
        "load_s": round(load_s, 3), "prepare_rows_s": round(prepare_s, 3), "timings": outcome.timings,
        "round_s": round(total_s, 3), "round_cpu_s": round(cpu_s, 3),
        "round_s_without_evaluate": round(total_s - outcome.timings.get("evaluate_s", 0.0), 3),
        "selected": int(len(selection.indices)), "distinct": int(len(set(selection.indices.tolist()))),
        "selection_crc32": zlib.crc32(np.asarray(selection.indices, dtype=np.int64).tobytes()),
        "eval_accuracy": round(outcome.metrics.get("accuracy", float("nan")), 4),
        "rss_mb_after_imports": imported_mb, "rss_mb_after_load": loaded_mb, "peak_rss_mb": peak_mb(),
        "peak_over_loaded_mb": round(peak_mb() - loaded_mb, 1),
    }
    if key == "mix":
        result["parts"] = [{"strategy": part["strategy"], "count": part["count"]}
                           for part in selection.details.get("parts", [])]
    if profiler:
        import io
        import pstats

        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(25)
        result["profile_top_cumulative"] = [line.rstrip() for line in stream.getvalue().splitlines()
                                            if line.strip()][:40]
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(15)
        result["profile_top_tottime"] = [line.rstrip() for line in stream.getvalue().splitlines() if line.strip()][:25]
    return result


def phase_micro(items: int) -> dict:
    """Where a margin selection's time goes on a 1M x 2 probability array, piece by piece,
    and what a partial sort would cost instead of the full lexsort in `top_k`."""
    import numpy as np

    _limit_blas()
    from activelearning.strategies import STRATEGIES, PoolInputs
    from activelearning.strategies.selection import top_k
    from activelearning.strategies.uncertainty import margin
    from activelearning.strategies.validation import check_proba

    rng = np.random.default_rng(0)
    p = rng.random(items)
    proba = np.column_stack([p, 1 - p])
    k = 100

    def timed(fn, repeats=5):
        values = []
        for _ in range(repeats):
            started = time.perf_counter()
            fn()
            values.append(time.perf_counter() - started)
        return round(float(np.median(values)), 5)

    scores = margin(proba)

    def partial_top_k():
        # Candidates at or above the k-th best score (ties kept), then the seeded tie-break among them only.
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        candidates = np.flatnonzero(scores >= kth)
        tie = np.random.default_rng(0).random(len(candidates))
        return candidates[np.lexsort((tie, -scores[candidates]))[:k]]

    # The core-set part: distance of every pool item to its nearest labeled item, as
    # diversity.min_sq_distances computes it, against the bare float32 formula it follows
    # (argmin_c |x-c|^2 = argmin_c |c|^2 - 2 x.c, row norms added once) and the matmul alone.
    from activelearning.strategies.diversity import min_sq_distances

    sub = min(items, 100_000)
    x = rng.standard_normal((sub, 64)).astype(np.float32)
    centers = rng.standard_normal((5000, 64)).astype(np.float32)

    def min_sq_float32():
        minus_two_c = (-2.0 * centers).T.copy()
        c_sq = np.einsum("ij,ij->i", centers, centers)
        out = np.empty(sub, dtype=np.float32)
        step = max(1, 4_000_000 // len(centers))
        for start in range(0, sub, step):
            block = x[start:start + step] @ minus_two_c
            block += c_sq
            out[start:start + step] = block.min(axis=1)
        return np.maximum(out + np.einsum("ij,ij->i", x, x), 0.0)

    started_cpu = time.process_time()
    reference = min_sq_distances(x, centers)
    current_cpu = time.process_time() - started_cpu
    started_cpu = time.process_time()
    variant = min_sq_float32()
    variant_cpu = time.process_time() - started_cpu
    started_cpu = time.process_time()
    step = max(1, 4_000_000 // len(centers))
    for start in range(0, sub, step):
        x[start:start + step] @ centers.T
    matmul_cpu = time.process_time() - started_cpu
    return {
        "min_sq_distances": {
            "rows": sub, "centers": 5000, "dim": 64, "current_cpu_s": round(current_cpu, 3),
            "float32_no_row_norms_cpu_s": round(variant_cpu, 3), "matmul_alone_cpu_s": round(matmul_cpu, 3),
            "max_rel_diff": float(np.max(np.abs(variant - reference) / np.maximum(reference, 1e-6))),
            "same_argmax": bool(np.argmax(variant) == np.argmax(reference)),
        },
        "items": items,
        "registry_margin_select_s": timed(lambda: STRATEGIES["margin"].select(PoolInputs(n=items, proba=proba), k,
                                                                             rng=np.random.default_rng(0))),
        "check_proba_s": timed(lambda: check_proba(proba, items)),
        "margin_scores_s": timed(lambda: margin(proba)),
        "top_k_s": timed(lambda: top_k(scores, k, rng=np.random.default_rng(0))),
        "partial_top_k_s": timed(partial_top_k),
        "same_items_partial_vs_top_k": bool(set(partial_top_k().tolist())
                                            == set(top_k(scores, k, rng=np.random.default_rng(0)).tolist())),
    }


# --- orchestration ------------------------------------------------------------------------

def child(*args: str, timeout: float = 3600) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}", "stderr_tail": done.stderr[-3000:]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = round(time.perf_counter() - started, 2)
    return result


def nearest_cached(files: dict, labeled: int, batch: int) -> bool:
    """Whether the kept distances on disk were built for this many labels and this batch."""
    if not (files["nearest"].exists() and files["nearest_meta"].exists()):
        return False
    meta = json.loads(files["nearest_meta"].read_text())
    return (meta.get("labeled"), meta.get("batch")) == (labeled, batch)


def round_variants(strategies: str) -> list[tuple[str, str]]:
    """(strategy, nearest) pairs: a strategy that reads labeled embeddings runs with the
    kept distances and again measuring every label from scratch."""
    from activelearning.config import strategy_params, validate_sampling
    from activelearning.simulate import strategy_spec
    from activelearning.strategies import LABELED_EMBEDDINGS, required_inputs

    variants = []
    for strategy in [s for s in strategies.split(";") if s]:
        key, extra = strategy_spec(strategy)
        params = strategy_params(key, validate_sampling(extra, key), {})
        variants.append((strategy, "kept"))
        if LABELED_EMBEDDINGS in required_inputs(key, params):
            variants.append((strategy, "scratch"))
    return variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--labeled", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--strategies", default=f"margin;{MIX}", help="';'-separated (a mix contains commas)")
    parser.add_argument("--profile", action="store_true", help="cProfile each round (slower; adds the top functions)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached pool, SVD and kept distances")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--phase", choices=["build", "svd", "nearest", "round", "micro"], help=argparse.SUPPRESS)
    parser.add_argument("--strategy", help=argparse.SUPPRESS)
    parser.add_argument("--nearest", choices=["kept", "scratch"], default="kept", help=argparse.SUPPRESS)
    parser.add_argument("--skip-micro", action="store_true", help="leave out the micro-benchmarks of margin's selection")
    args = parser.parse_args()

    if args.phase:
        if args.phase == "build":
            out = phase_build(args.items)
        elif args.phase == "svd":
            out = phase_svd(args.items)
        elif args.phase == "nearest":
            out = phase_nearest(args.items, args.labeled, args.batch)
        elif args.phase == "micro":
            out = phase_micro(args.items)
        else:
            out = phase_round(args.items, args.strategy, args.labeled, args.batch, args.profile, args.nearest)
        print(json.dumps(out))
        return

    RESULTS.mkdir(parents=True, exist_ok=True)
    files = paths(args.items)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    started = time.perf_counter()
    result = {
        "benchmark": "scoring", "command": " ".join([".venv/bin/python", "bench/scoring.py", *sys.argv[1:]]),
        "started_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"nproc": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_start": [round(v, 2) for v in os.getloadavg()], "blas_threads": 1},
        "items": args.items, "labeled": args.labeled, "batch": args.batch,
        "goals": {"round_s_max": 15.0, "peak_rss_mb_max": 2048},
    }
    if args.rebuild or not (files["matrix"].exists() and files["meta"].exists()):
        result["build"] = child("--phase", "build", "--items", str(args.items))
        result["build"]["cached"] = False
    else:
        result["build"] = {**json.loads(files["meta"].read_text()), "cached": True}
    if args.rebuild or not (files["svd"].exists() and files["svd_meta"].exists()):
        result["svd"] = child("--phase", "svd", "--items", str(args.items))
        result["svd"]["cached"] = False
    else:
        result["svd"] = {**json.loads(files["svd_meta"].read_text()), "cached": True}
    if args.rebuild or not result["svd"]["cached"] or not nearest_cached(files, args.labeled, args.batch):
        result["nearest"] = child("--phase", "nearest", "--items", str(args.items), "--labeled", str(args.labeled),
                                  "--batch", str(args.batch))
        result["nearest"]["cached"] = False
    else:
        result["nearest"] = {**json.loads(files["nearest_meta"].read_text()), "cached": True}
    result["rounds"] = {}
    for strategy, nearest in round_variants(args.strategies):
        extra = ["--profile"] if args.profile else []
        name = strategy if nearest == "kept" else f"{strategy} (distances from scratch)"
        result["rounds"][name] = child("--phase", "round", "--items", str(args.items), "--strategy", strategy,
                                       "--labeled", str(args.labeled), "--batch", str(args.batch),
                                       "--nearest", nearest, *extra)
        round_ = result["rounds"][name]
        if "error" not in round_:
            round_["goal_round_under_15s"] = round_["round_s"] < 15.0
            round_["goal_peak_under_2gb"] = round_["peak_rss_mb"] < 2048
        print(f"{name}: {json.dumps({k: v for k, v in round_.items() if not k.startswith('profile')})}",
              file=sys.stderr, flush=True)
    if not args.skip_micro:
        result["micro_margin_select"] = child("--phase", "micro", "--items", str(args.items))
    result["machine"]["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    result["wall_s"] = round(time.perf_counter() - started, 1)
    out = args.out or RESULTS / f"scoring-{stamp}.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
