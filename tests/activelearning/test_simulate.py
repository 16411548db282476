"""The simulator: the engine's rounds on a labeled dataset with an oracle, as a function
(activelearning.simulate), from files (activelearning.datasets) and as `manage.py simulate`."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from activelearning.datasets import DatasetError, load_dataset
from activelearning.simulate import SimulationConfig, labels_to_reach, simulate
from annotations.demo import SAMPLE_FILE, read_sentiment_file

SENTIMENT = Path("/work/shared/datasets/sentiment_labelled_sentences/yelp_labelled.txt")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _sentences(per_class: int = 100) -> list[tuple[str, str]]:
    """Real review sentences, balanced; the bundled sample when the shared data is absent."""
    pairs = read_sentiment_file(SENTIMENT) if SENTIMENT.exists() else read_sentiment_file(SAMPLE_FILE)
    negative = [p for p in pairs if p[1] == "0"][:per_class]
    positive = [p for p in pairs if p[1] == "1"][:per_class]
    return negative + positive


@pytest.fixture
def sentiment_file(tmp_path) -> Path:
    path = tmp_path / "reviews.txt"
    path.write_text("".join(f"{text}\t{label}\n" for text, label in _sentences()), encoding="utf-8")
    return path


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """Dark and light pictures in one subfolder per class, in sizes and modes the loader
    has to normalise, with a stray non-image file."""
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "pictures"
    for name, low, high in (("dark", 0, 80), ("light", 170, 256)):
        (root / name).mkdir(parents=True)
        for n in range(12):
            size = 8 if n % 2 else 16
            pixels = rng.integers(low, high, (size, size, 3), dtype=np.uint8)
            image = Image.fromarray(pixels, "RGB")
            (image.convert("L") if n % 3 == 0 else image).save(root / name / f"{n:03d}.png")
        (root / name / "notes.txt").write_text("not a picture")
    return root


def _config(**overrides) -> SimulationConfig:
    settings = {"strategies": ["random", "margin"], "initial": 6, "batch": 6, "budget": 12, "seeds": 2}
    return SimulationConfig(**{**settings, **overrides})


def test_a_simulation_gives_a_learning_curve_per_strategy(sentiment_file):
    dataset = load_dataset([sentiment_file])
    mix = "margin:0.5,coreset:0.5"
    result = simulate(dataset, _config(strategies=["random", "margin", mix]))
    assert list(result["strategies"]) == ["random", "margin", mix]
    for curve in result["strategies"].values():
        assert curve["labels"] == [6, 12, 18]
        for key in ("accuracy_mean", "accuracy_std", "macro_f1_mean", "macro_f1_std"):
            assert len(curve[key]) == 3, key
        assert all(0.0 <= a <= 1.0 for a in curve["accuracy_mean"])
        assert all(s >= 0.0 for s in curve["accuracy_std"])
        assert curve["seconds_per_round"] > 0
        assert 0.0 <= curve["area_under_curve"] <= 1.0
    assert result["config"]["items"] == len(dataset.labels)
    assert result["config"]["classes"] == ["0", "1"]
    assert 0.5 < result["full_accuracy"] <= 1.0


def test_labels_to_95pct_is_the_first_point_of_the_curve_at_95pct_of_full_data(sentiment_file):
    result = simulate(load_dataset([sentiment_file]), _config(initial=10, batch=20, budget=100, seeds=1))
    level = 0.95 * result["full_accuracy"]
    for name, curve in result["strategies"].items():
        reached = [labels for labels, a in zip(curve["labels"], curve["accuracy_mean"]) if a >= level]
        assert result["labels_to_95pct"][name] == (reached[0] if reached else None), name


def test_labels_to_reach_reads_the_mean_curve():
    curve = {"labels": [10, 20, 30], "accuracy_mean": [0.5, 0.8, 0.9]}
    assert labels_to_reach(curve, 0.8) == 20
    assert labels_to_reach(curve, 0.4) == 10
    assert labels_to_reach(curve, 0.95) is None


def test_the_last_batch_is_cut_to_the_budget(sentiment_file):
    result = simulate(load_dataset([sentiment_file]), _config(strategies=["margin"], initial=10, batch=15, budget=40,
                                                              seeds=1))
    assert result["strategies"]["margin"]["labels"] == [10, 25, 40, 50]


def test_a_budget_beyond_the_pool_stops_when_the_pool_is_labeled(sentiment_file):
    dataset = load_dataset([sentiment_file])
    result = simulate(dataset, _config(strategies=["random"], initial=10, batch=50, budget=10_000, seeds=1,
                                       test_fraction=0.5))
    pool = len(dataset.labels) // 2
    labels = result["strategies"]["random"]["labels"]
    assert labels[0] == 10 and labels[-1] == pool
    assert all(b - a <= 50 for a, b in zip(labels, labels[1:]))


def test_the_same_settings_give_the_same_curves(sentiment_file):
    dataset = load_dataset([sentiment_file])
    first = simulate(dataset, _config(seeds=1))
    again = simulate(dataset, _config(seeds=1))
    for name, curve in first["strategies"].items():
        timing = {"seconds_per_round": again["strategies"][name]["seconds_per_round"]}
        assert {**curve, **timing} == again["strategies"][name], name


def test_progress_counts_every_strategy_and_seed(sentiment_file):
    reports = []
    simulate(load_dataset([sentiment_file]), _config(), progress=lambda *r: reports.append(r))
    assert reports == [("simulating", n, 4) for n in range(1, 5)]


def test_a_learner_of_the_wrong_kind_is_refused(sentiment_file):
    with pytest.raises(ValueError, match="'image_cnn' does not fit text data; choose from tfidf_logreg, minilm_logreg"):
        simulate(load_dataset([sentiment_file]), _config(learner="image_cnn"))
    with pytest.raises(ValueError, match="unknown learner 'svm'"):
        simulate(load_dataset([sentiment_file]), _config(learner="svm"))


# Reading data.


def test_an_image_folder_loads_as_small_grey_images_with_its_subfolders_as_classes(image_folder):
    dataset = load_dataset([image_folder])
    assert dataset.kind == "image"
    assert dataset.inputs.shape == (24, 8, 8)
    assert dataset.classes == ["dark", "light"]
    assert 0.0 <= dataset.inputs.min() and dataset.inputs.max() <= 1.0
    dark = dataset.inputs[dataset.labels == "dark"]
    light = dataset.inputs[dataset.labels == "light"]
    assert dark.mean() < 0.35 < 0.65 < light.mean()
    assert load_dataset([image_folder], image_size=4).inputs.shape == (24, 4, 4)


def test_an_image_folder_simulates_with_an_image_learner(image_folder):
    result = simulate(load_dataset([image_folder]), _config(learner="image_embedding_logreg", initial=4, batch=4,
                                                            budget=4, seeds=1))
    assert result["config"]["learner"] == "image_embedding_logreg"
    assert result["strategies"]["margin"]["labels"] == [4, 8]
    assert result["full_accuracy"] > 0.9  # dark against light


def test_a_text_learner_is_refused_for_images(image_folder):
    with pytest.raises(ValueError, match="does not fit image data; choose from image_cnn, image_embedding_logreg"):
        simulate(load_dataset([image_folder]), _config(learner="tfidf_logreg"))


def test_an_image_folder_with_one_class_is_refused(tmp_path, image_folder):
    (image_folder / "light").rename(tmp_path / "elsewhere")
    with pytest.raises(DatasetError, match="needs one subfolder per class with images in them"):
        load_dataset([image_folder])


def test_a_text_file_with_one_class_is_refused(tmp_path):
    path = tmp_path / "positive_only.txt"
    path.write_text("".join(f"{text}\t1\n" for text, label in _sentences(20) if label == "1"))
    with pytest.raises(DatasetError, match="the data needs at least two classes"):
        load_dataset([path])


def test_a_line_without_a_label_is_refused_with_its_number(tmp_path):
    path = tmp_path / "broken.txt"
    path.write_text("great\t1\nawful\t0\nno label here\n")
    with pytest.raises(DatasetError, match="broken.txt line 3: expected 'text<TAB>label'"):
        load_dataset([path])


def test_several_text_files_are_read_as_one_dataset(tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("great food\t1\nawful food\t0\n\n")
    second.write_text("lovely staff\t1\n")
    dataset = load_dataset([first, second])
    assert list(dataset.inputs) == ["great food", "awful food", "lovely staff"]
    assert dataset.labels.tolist() == ["1", "0", "1"]


def test_a_folder_of_labelled_sentiment_files_loads_them_all(tmp_path):
    folder = tmp_path / "sentiment"
    folder.mkdir()
    (folder / "shop_labelled.txt").write_text("great\t1\nawful\t0\n")
    (folder / "films_labelled.txt").write_text("moving\t1\n")
    (folder / "readme.txt").write_text("not data")
    dataset = load_dataset([folder])
    assert dataset.kind == "text"
    assert sorted(dataset.inputs) == ["awful", "great", "moving"]


def test_csv_and_jsonl_files_are_read_by_field_name(tmp_path):
    csv_path = tmp_path / "reviews.csv"
    csv_path.write_text('review,stars\n"good, really",high\nbad,low\n')
    dataset = load_dataset([csv_path], text_field="review", label_field="stars")
    assert list(dataset.inputs) == ["good, really", "bad"] and dataset.labels.tolist() == ["high", "low"]
    jsonl = tmp_path / "reviews.jsonl"
    jsonl.write_text('{"text": "fine", "label": "pos"}\n\n{"text": "poor", "label": "neg"}\n')
    assert load_dataset([jsonl]).labels.tolist() == ["pos", "neg"]
    with pytest.raises(DatasetError, match="reviews.csv row 1: needs the fields 'text' and 'label'"):
        load_dataset([csv_path])


def test_a_missing_path_is_named(tmp_path):
    with pytest.raises(DatasetError, match="not found: .*nowhere.txt"):
        load_dataset([tmp_path / "nowhere.txt"])


# The management command.

SMALL = ["--initial", "6", "--batch", "6", "--budget", "12", "--seeds", "1"]


def test_the_command_writes_the_result_as_json_and_the_curves_as_a_png(sentiment_file, tmp_path):
    out, plot = tmp_path / "result.json", tmp_path / "curves.png"
    call_command("simulate", "--data", str(sentiment_file), "--strategy", "random",
                 "--strategy", "margin:0.7,coreset:0.2,random:0.1", *SMALL, "--out", str(out), "--plot", str(plot))
    result = json.loads(out.read_text())
    assert list(result["strategies"]) == ["random", "margin:0.7,coreset:0.2,random:0.1"]
    assert result["config"]["learner"] == "tfidf_logreg"
    assert result["config"]["seeds"] == 1
    assert result["strategies"]["random"]["labels"] == [6, 12, 18]
    assert set(result["labels_to_95pct"]) == set(result["strategies"])
    data = plot.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5000


def test_the_command_prints_the_json_without_out(sentiment_file, capsys):
    call_command("simulate", "--data", str(sentiment_file), "--strategy", "margin", *SMALL)
    printed = json.loads(capsys.readouterr().out)
    assert list(printed["strategies"]) == ["margin"]


def test_the_command_simulates_an_image_folder(image_folder, tmp_path):
    out = tmp_path / "images.json"
    call_command("simulate", "--data", str(image_folder), "--learner", "image_embedding_logreg",
                 "--initial", "4", "--batch", "4", "--budget", "4", "--seeds", "1", "--out", str(out))
    result = json.loads(out.read_text())
    assert result["config"]["classes"] == ["dark", "light"]
    assert list(result["strategies"]) == ["random", "margin"]  # the default pair


@pytest.mark.parametrize("arguments, message", [
    (["--strategy", "bogus"], "Unknown strategy 'bogus'. Choose from: least_confidence"),
    (["--strategy", "margin:0.5,bogus:0.5"], "sampling.mix: mix part 2: unknown strategy 'bogus'"),
    (["--strategy", "margin:0.5,random:0.2"], "mix fractions must sum to 1"),
    (["--batch", "0"], "--batch must be at least 1"),
    (["--seeds", "-1"], "--seeds must be at least 1"),
    (["--test-fraction", "1"], "--test-fraction must be between 0 and 1"),
    (["--learner", "svm"], "argument --learner: invalid choice: 'svm'"),
    (["--learner", "image_cnn"], "'image_cnn' does not fit text data"),
    (["--initial", "many"], "argument --initial: invalid int value: 'many'"),
])
def test_the_command_refuses_bad_options_with_a_message(sentiment_file, arguments, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("simulate", "--data", str(sentiment_file), *SMALL, *arguments)


def test_the_command_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="not found: .*missing.txt"):
        call_command("simulate", "--data", str(tmp_path / "missing.txt"), *SMALL)


def test_the_command_refuses_data_with_one_class(tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("good\t1\ngreat\t1\nfine\t1\n")
    with pytest.raises(CommandError, match="the data needs at least two classes"):
        call_command("simulate", "--data", str(path), *SMALL)


def test_the_command_needs_data():
    with pytest.raises(CommandError, match="--data"):
        call_command("simulate", *SMALL)


def test_class_balanced_simulates_with_an_even_split_when_no_ratios_are_given(sentiment_file, monkeypatch):
    from activelearning import engine

    seen = []
    real = engine.run_round

    def spy(problem, settings, **kwargs):
        seen.append(problem.target_ratios)
        return real(problem, settings, **kwargs)

    monkeypatch.setattr(engine, "run_round", spy)
    result = simulate(load_dataset([sentiment_file]), _config(strategies=["class_balanced"], seeds=1))
    assert result["strategies"]["class_balanced"]["labels"] == [6, 12, 18]
    assert seen and all(ratios == {0: 0.5, 1: 0.5} for ratios in seen)


def test_class_balanced_simulates_with_the_given_ratios_by_class(sentiment_file, monkeypatch):
    from activelearning import engine

    seen = []
    real = engine.run_round
    monkeypatch.setattr(engine, "run_round", lambda p, s, **k: seen.append(p.target_ratios) or real(p, s, **k))
    simulate(load_dataset([sentiment_file]),
             _config(strategies=["class_balanced"], seeds=1, sampling={"target_ratios": {"1": 0.8, "0": 0.2}}))
    assert seen and all(ratios == {1: 0.8, 0: 0.2} for ratios in seen)
    with pytest.raises(ValueError, match="names the class 'neutral'"):
        simulate(load_dataset([sentiment_file]),
                 _config(strategies=["class_balanced"], seeds=1, sampling={"target_ratios": {"neutral": 1.0}}))
