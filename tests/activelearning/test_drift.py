"""The drift report, checked against numbers worked out by hand."""
import numpy as np
import pytest

from activelearning.drift import drift_report, validate_drift_threshold


def test_it_alerts_when_new_items_are_much_less_certain():
    new = [0.5] * 10 + [0.7] * 10  # mean 0.6
    reference = [0.1] * 30 + [0.3] * 10  # mean (3 + 3) / 40 = 0.15
    report = drift_report(new, reference, threshold=0.15, bins=10)
    assert report["alert"] is True
    assert (report["new_items"], report["reference_items"]) == (20, 40)
    assert report["new_mean"] == pytest.approx(0.6)
    assert report["reference_mean"] == pytest.approx(0.15)
    assert report["rise"] == pytest.approx(0.45)
    assert report["threshold"] == 0.15
    assert report["message"].startswith("Possible drift: the 20 new items are less certain")
    assert "0.60 against 0.15" in report["message"]


def test_the_histogram_holds_fractions_per_bin_of_zero_to_one():
    report = drift_report([0.05, 0.55, 0.55, 1.0], [0.0, 0.25], bins=4)
    histogram = report["histogram"]
    assert histogram["edges"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    # 0.05 -> bin 0; 0.55 twice -> bin 2; 1.0 -> the last bin, which includes its right edge
    assert histogram["new"] == [0.25, 0.0, 0.5, 0.25]
    # 0.25 is the left edge of bin 1
    assert histogram["reference"] == [0.5, 0.5, 0.0, 0.0]
    assert sum(histogram["new"]) == pytest.approx(1.0)


def test_no_alert_when_the_rise_is_within_the_threshold():
    new = np.full(25, 0.40)
    reference = np.full(25, 0.30)  # rise 0.10
    report = drift_report(new, reference, threshold=0.15)
    assert report["alert"] is False
    assert report["rise"] == pytest.approx(0.10)
    assert report["message"].startswith("No drift:")


def test_a_rise_exactly_at_the_threshold_is_no_alert():
    report = drift_report(np.full(20, 0.5), np.full(20, 0.25), threshold=0.25)
    assert report["rise"] == pytest.approx(0.25)
    assert report["alert"] is False
    # The means of 20 items at 0.4 and at 0.25 differ by 0.15000000000000008 in floats:
    # still exactly the threshold.
    report = drift_report(np.full(20, 0.4), np.full(20, 0.25), threshold=0.15)
    assert report["rise"] > 0.15
    assert report["alert"] is False


def test_too_few_new_items_never_alert():
    report = drift_report([0.9] * 19, [0.1] * 100)
    assert report["alert"] is False
    assert report["rise"] == pytest.approx(0.8)
    assert "Only 19 new items" in report["message"]
    assert "needs at least 20" in report["message"]
    assert drift_report([0.9] * 5, [0.1] * 100, min_new=5)["alert"] is True


def test_empty_sides_are_reported_without_an_alert():
    nothing_new = drift_report([], [0.2, 0.4])
    assert nothing_new["alert"] is False
    assert (nothing_new["new_mean"], nothing_new["rise"]) == (None, None)
    assert nothing_new["reference_mean"] == pytest.approx(0.3)
    assert nothing_new["histogram"]["new"] == [0.0] * 10
    assert nothing_new["message"] == "No new items since the last round: nothing to compare."

    nothing_labeled = drift_report([0.9] * 30, None)
    assert nothing_labeled["alert"] is False
    assert nothing_labeled["reference_items"] == 0
    assert nothing_labeled["message"] == "No labeled items to compare the new items with yet."


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"new_uncertainty": [0.2, float("nan")]}, "new_uncertainty contains NaN"),
        ({"reference_uncertainty": [1.5]}, r"reference_uncertainty must lie in \[0, 1\]"),
        ({"threshold": 2}, "threshold must be a number between 0 and 1"),
        ({"bins": 0}, "bins must be a whole number"),
    ],
)
def test_bad_input_is_refused(kwargs, message):
    arguments = {"new_uncertainty": [0.2], "reference_uncertainty": [0.1], **kwargs}
    with pytest.raises(ValueError, match=message):
        drift_report(**arguments)


def test_validate_drift_threshold_names_the_field():
    assert validate_drift_threshold(0) == 0.0
    assert validate_drift_threshold(0.3) == 0.3
    for bad in (-0.1, 1.01, "0.2", None, True):
        with pytest.raises(ValueError, match=r"stopping\.drift\.threshold must be a number between 0 and 1"):
            validate_drift_threshold(bad)
