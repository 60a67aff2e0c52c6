"""Vessel segmentation scores, counted over field-of-view (FOV) pixels only.

Pure NumPy (scikit-learn draws the curves), so the scoring can be checked without Keras, and
the tests check it against scikit-learn:

    from metrics import evaluate
    scores = evaluate(probabilities, ground_truth, fov_masks)   # arrays (N, H, W)
    scores["pooled"]["roc_auc"], scores["per_image"][0]["f1"]

ROC AUC is pooled over the FOV pixels of all images, as the blog did. Threshold scores
(F1 = Dice, accuracy, sensitivity, specificity, IoU) are given at 0.5 and at the threshold
that maximises the pooled F1.
"""

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

DEFAULT_THRESHOLD = 0.5


def check_inputs(probabilities, ground_truth, fov_masks):
    """Validate shapes and contents; return the three arrays as float64, bool, bool."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    ground_truth = np.asarray(ground_truth)
    fov_masks = np.asarray(fov_masks)
    if not (probabilities.shape == ground_truth.shape == fov_masks.shape):
        raise ValueError(
            f"Shapes differ: probabilities {probabilities.shape}, ground truth "
            f"{ground_truth.shape}, FOV masks {fov_masks.shape}; they must be equal."
        )
    if not np.isin(ground_truth, (0, 1)).all():
        raise ValueError("Ground truth must hold only 0 and 1 (or False and True).")
    if not np.isfinite(probabilities).all():
        raise ValueError("Probabilities contain NaN or infinity.")
    fov_masks = fov_masks.astype(bool)
    if not fov_masks.any():
        raise ValueError("The FOV masks are empty: there is no pixel to score.")
    return probabilities, ground_truth.astype(bool), fov_masks


def fov_pixels(probabilities, ground_truth, fov_masks):
    """Flatten to the 1-D arrays of scores and labels inside the FOV, with checks."""
    probabilities, ground_truth, fov_masks = check_inputs(probabilities, ground_truth, fov_masks)
    scores, labels = probabilities[fov_masks], ground_truth[fov_masks]
    if labels.all() or not labels.any():
        raise ValueError(
            "The ground truth inside the FOV holds only one class; ROC and PR curves need both "
            "vessel and background pixels."
        )
    return scores, labels


def confusion_counts(scores, labels, threshold):
    """True/false positives/negatives of `scores >= threshold` against boolean `labels`."""
    predicted = scores >= threshold
    true_positives = int(np.count_nonzero(predicted & labels))
    false_positives = int(np.count_nonzero(predicted & ~labels))
    false_negatives = int(np.count_nonzero(~predicted & labels))
    true_negatives = int(labels.size - true_positives - false_positives - false_negatives)
    return true_positives, false_positives, false_negatives, true_negatives


def safe_ratio(numerator, denominator):
    """numerator / denominator, or 0.0 when the denominator is 0."""
    return float(numerator) / denominator if denominator else 0.0


def threshold_scores(scores, labels, threshold):
    """F1 (Dice), accuracy, sensitivity, specificity and IoU at one threshold."""
    return scores_from_counts(*confusion_counts(scores, labels, threshold), threshold)


def scores_from_counts(tp, fp, fn, tn, threshold):
    """threshold_scores' dict from the confusion counts at `threshold`."""
    return {
        "threshold": float(threshold),
        "f1": safe_ratio(2 * tp, 2 * tp + fp + fn),
        "accuracy": safe_ratio(tp + tn, tp + fp + fn + tn),
        "sensitivity": safe_ratio(tp, tp + fn),
        "specificity": safe_ratio(tn, tn + fp),
        "iou": safe_ratio(tp, tp + fp + fn),
    }


def ranked_counts(scores, labels):
    """The counts behind the ROC and precision-recall curves, from one sort of the pixels.

    Returns (thresholds, true positives, false positives): for each distinct score, from the
    highest down, the pixels at or above it. scikit-learn's roc_auc_score,
    average_precision_score and precision_recall_curve each sort millions of FOV pixels again;
    this sorts them once for all three, which makes scoring about three times faster.
    """
    # Tied pixels are counted together below, so their order, and a stable sort, do not matter.
    order = np.argsort(scores)[::-1]
    sorted_scores = scores[order]
    # The last position of each run of equal scores: tied pixels cross a threshold together.
    ends = np.r_[np.flatnonzero(np.diff(sorted_scores)), sorted_scores.size - 1]
    true_positives = np.cumsum(labels[order], dtype=np.int64)[ends]
    false_positives = ends + 1 - true_positives
    return sorted_scores[ends], true_positives, false_positives


def roc_auc_from_counts(true_positives, false_positives):
    """Area under the ROC curve by the trapezoidal rule, as scikit-learn's roc_auc_score."""
    true_positive_rate = np.r_[0, true_positives] / true_positives[-1]
    false_positive_rate = np.r_[0, false_positives] / false_positives[-1]
    return float(np.trapezoid(true_positive_rate, false_positive_rate))


def average_precision_from_counts(true_positives, false_positives):
    """Average precision (PR AUC): precision summed over the steps in recall, as scikit-learn's
    average_precision_score."""
    precision = true_positives / (true_positives + false_positives)
    recall_steps = np.diff(np.r_[0, true_positives]) / true_positives[-1]
    return float(np.sum(recall_steps * precision))


def best_f1_threshold_from_counts(thresholds, true_positives, false_positives):
    """The threshold that maximises F1 = 2TP / (2TP + FP + FN); the lowest one if several tie."""
    f1 = 2 * true_positives / (true_positives + false_positives + true_positives[-1])
    return float(thresholds[len(f1) - 1 - int(np.argmax(f1[::-1]))])


def score_pixels(scores, labels, threshold=DEFAULT_THRESHOLD, best_threshold=None):
    """All scores of one set of FOV pixels (one image, or all images pooled)."""
    thresholds, true_positives, false_positives = ranked_counts(scores, labels)
    if best_threshold is None:
        best_threshold = best_f1_threshold_from_counts(thresholds, true_positives, false_positives)
    return {
        "roc_auc": roc_auc_from_counts(true_positives, false_positives),
        "pr_auc": average_precision_from_counts(true_positives, false_positives),
        "vessel_fraction": float(labels.mean()),
        "fov_pixels": int(labels.size),
        "at_threshold": threshold_scores(scores, labels, threshold),
        "at_best_f1": threshold_scores(scores, labels, best_threshold),
    }


def evaluate(probabilities, ground_truth, fov_masks, threshold=DEFAULT_THRESHOLD):
    """Pooled and per-image scores of (N, H, W) probability maps inside the FOV.

    The per-image best-F1 scores use the pooled best threshold, so that every image is cut
    at the same operating point.
    """
    probabilities, ground_truth, fov_masks = check_inputs(probabilities, ground_truth, fov_masks)
    if probabilities.ndim == 2:
        probabilities, ground_truth, fov_masks = probabilities[None], ground_truth[None], fov_masks[None]
    scores, labels = fov_pixels(probabilities, ground_truth, fov_masks)
    pooled = score_pixels(scores, labels, threshold)
    best = pooled["at_best_f1"]["threshold"]
    per_image = [
        score_pixels(*fov_pixels(p, g, m), threshold=threshold, best_threshold=best)
        for p, g, m in zip(probabilities, ground_truth, fov_masks)
    ]
    return {"pooled": pooled, "per_image": per_image}


def pooled_roc_auc(probabilities, ground_truth, fov_masks):
    """ROC AUC over the FOV pixels of all the images together, without evaluate()'s other scores."""
    _, true_positives, false_positives = ranked_counts(*fov_pixels(probabilities, ground_truth, fov_masks))
    return roc_auc_from_counts(true_positives, false_positives)


def roc_and_pr_curves(probabilities, ground_truth, fov_masks):
    """Pooled FOV curves for plotting: (false positive rate, true positive rate, recall, precision)."""
    scores, labels = fov_pixels(probabilities, ground_truth, fov_masks)
    false_positive_rate, true_positive_rate, _ = roc_curve(labels, scores, drop_intermediate=True)
    precision, recall, _ = precision_recall_curve(labels, scores)
    return false_positive_rate, true_positive_rate, recall, precision
