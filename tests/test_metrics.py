import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

import metrics


def test_threshold_scores_on_hand_counted_pixels():
    # 2 true positives, 1 false positive, 1 false negative, 4 true negatives.
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.3, 0.4, 0.0])
    labels = np.array([1, 1, 0, 1, 0, 0, 0, 0], dtype=bool)
    result = metrics.threshold_scores(scores, labels, 0.5)
    assert result["f1"] == pytest.approx(4 / 6)
    assert result["accuracy"] == pytest.approx(6 / 8)
    assert result["sensitivity"] == pytest.approx(2 / 3)
    assert result["specificity"] == pytest.approx(4 / 5)
    assert result["iou"] == pytest.approx(2 / 4)


def test_perfect_and_inverted_predictions():
    truth = np.zeros((1, 4, 4), dtype=np.uint8)
    truth[0, 1:3, 1:3] = 1
    fov = np.ones_like(truth, dtype=bool)
    assert metrics.evaluate(truth.astype(float), truth, fov)["pooled"]["roc_auc"] == 1.0
    assert metrics.evaluate(1.0 - truth, truth, fov)["pooled"]["roc_auc"] == 0.0
    assert metrics.evaluate(truth.astype(float), truth, fov)["pooled"]["at_threshold"]["f1"] == 1.0


def test_matches_scikit_learn_on_random_data():
    rng = np.random.default_rng(0)
    truth = (rng.random((3, 20, 30)) < 0.2).astype(np.uint8)
    probabilities = np.clip(truth * 0.3 + rng.random(truth.shape) * 0.7, 0, 1)
    fov = rng.random(truth.shape) < 0.7
    result = metrics.evaluate(probabilities, truth, fov)
    assert result["pooled"]["roc_auc"] == pytest.approx(roc_auc_score(truth[fov], probabilities[fov]))
    assert result["pooled"]["pr_auc"] == pytest.approx(average_precision_score(truth[fov], probabilities[fov]))
    first = result["per_image"][0]
    assert first["roc_auc"] == pytest.approx(roc_auc_score(truth[0][fov[0]], probabilities[0][fov[0]]))
    assert len(result["per_image"]) == 3


def test_every_image_scores_as_scikit_learn_with_ties():
    # Few levels tie many pixels, in any order after the unstable sort; FOVs differ in size.
    rng = np.random.default_rng(5)
    truth = rng.random((4, 16, 24)) < 0.2
    probabilities = np.round(np.clip(truth * 0.3 + rng.random(truth.shape) * 0.7, 0, 1) * 6) / 6
    fov = rng.random(truth.shape) < np.array([0.9, 0.4, 0.7, 0.6])[:, None, None]
    for image, scores in enumerate(metrics.evaluate(probabilities, truth, fov)["per_image"]):
        labels, pixels = truth[image][fov[image]], probabilities[image][fov[image]]
        assert scores["roc_auc"] == pytest.approx(roc_auc_score(labels, pixels), abs=1e-12)
        assert scores["pr_auc"] == pytest.approx(average_precision_score(labels, pixels), abs=1e-12)
        assert scores["fov_pixels"] == fov[image].sum()


@pytest.mark.parametrize("levels", [None, 7, 256])
def test_one_sort_gives_scikit_learns_scores_with_and_without_ties(levels):
    # Probability maps quantised to few levels (as PNGs are) tie many pixels; float maps tie none.
    rng = np.random.default_rng(levels or 3)
    labels = rng.random(5000) < 0.15
    scores = np.clip(labels * 0.3 + rng.random(labels.size) * 0.7, 0, 1)
    if levels:
        scores = np.round(scores * (levels - 1)) / (levels - 1)
    thresholds, true_positives, false_positives = metrics.ranked_counts(scores, labels)
    assert metrics.roc_auc_from_counts(true_positives, false_positives) == pytest.approx(
        roc_auc_score(labels, scores), abs=1e-12
    )
    assert metrics.average_precision_from_counts(true_positives, false_positives) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-12
    )
    precision, recall, curve_thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = metrics.best_f1_threshold_from_counts(thresholds, true_positives, false_positives)
    assert best == curve_thresholds[int(np.argmax(f1[:-1]))]


def test_pixels_outside_the_fov_are_ignored():
    rng = np.random.default_rng(1)
    truth = (rng.random((2, 16, 16)) < 0.3).astype(np.uint8)
    probabilities = rng.random(truth.shape)
    fov = np.zeros(truth.shape, dtype=bool)
    fov[:, 2:14, 2:14] = True
    before = metrics.evaluate(probabilities, truth, fov)
    # Change everything outside the FOV, in the worst possible way.
    changed_probabilities, changed_truth = probabilities.copy(), truth.copy()
    changed_probabilities[~fov] = 1 - changed_probabilities[~fov]
    changed_truth[~fov] = 1 - changed_truth[~fov]
    after = metrics.evaluate(changed_probabilities, changed_truth, fov)
    assert after == before


def test_best_f1_threshold_is_at_least_as_good_as_half():
    rng = np.random.default_rng(2)
    truth = (rng.random((1, 30, 30)) < 0.15).astype(np.uint8)
    probabilities = np.clip(truth * 0.25 + rng.random(truth.shape) * 0.5, 0, 1)
    pooled = metrics.evaluate(probabilities, truth, np.ones_like(truth, dtype=bool))["pooled"]
    assert pooled["at_best_f1"]["f1"] >= pooled["at_threshold"]["f1"]
    assert pooled["at_best_f1"]["threshold"] != 0.5


@pytest.mark.parametrize(
    "probabilities, truth, fov, message",
    [
        (np.zeros((2, 3)), np.zeros((2, 4)), np.ones((2, 3)), "Shapes differ"),
        (np.zeros((2, 3)), np.array([[0, 1, 0], [1, 0, 0]]), np.zeros((2, 3)), "FOV masks are empty"),
        (np.zeros((2, 3)), np.zeros((2, 3)), np.ones((2, 3)), "only one class"),
        (np.zeros((2, 3)), np.full((2, 3), 2), np.ones((2, 3)), "only 0 and 1"),
        (np.full((2, 3), np.nan), np.array([[0, 1, 0], [1, 0, 0]]), np.ones((2, 3)), "NaN"),
    ],
)
def test_bad_input_gives_a_clear_error(probabilities, truth, fov, message):
    with pytest.raises(ValueError, match=message):
        metrics.evaluate(probabilities, truth, fov)


def test_second_observer_reference_matches_drive(drive_dir):
    from vesselseg import results_table as report
    from vesselseg.data import drive_data

    test = drive_data.load_split(drive_dir, "test")
    at = metrics.evaluate(test.manual2.astype(float), test.manual1, test.masks)["pooled"]["at_threshold"]
    for key, value in report.SECOND_OBSERVER.items():
        assert round(at[key], 4 if key != "f1" else 3) == value
