"""Vessel segmentation scores, counted over field-of-view (FOV) pixels only.

Pure NumPy and scikit-learn, so the scoring can be checked without Keras:

    from metrics import evaluate
    scores = evaluate(probabilities, ground_truth, fov_masks)   # arrays (N, H, W)
    scores["pooled"]["roc_auc"], scores["per_image"][0]["f1"]

ROC AUC is pooled over the FOV pixels of all images, as the blog did. Threshold scores
(F1 = Dice, accuracy, sensitivity, specificity, IoU) are given at 0.5 and at the threshold
that maximises the pooled F1.
"""

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve, average_precision_score

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
    tp, fp, fn, tn = confusion_counts(scores, labels, threshold)
    return {
        "threshold": float(threshold),
        "f1": safe_ratio(2 * tp, 2 * tp + fp + fn),
        "accuracy": safe_ratio(tp + tn, tp + fp + fn + tn),
        "sensitivity": safe_ratio(tp, tp + fn),
        "specificity": safe_ratio(tn, tn + fp),
        "iou": safe_ratio(tp, tp + fp + fn),
    }


def best_f1_threshold(scores, labels):
    """The threshold that maximises F1 on these pixels."""
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
    # The last precision/recall pair has no threshold; it is the empty prediction.
    return float(thresholds[int(np.argmax(f1[:-1]))])


def score_pixels(scores, labels, threshold=DEFAULT_THRESHOLD, best_threshold=None):
    """All scores of one set of FOV pixels (one image, or all images pooled)."""
    if best_threshold is None:
        best_threshold = best_f1_threshold(scores, labels)
    return {
        "roc_auc": float(roc_auc_score(labels, scores)),
        "pr_auc": float(average_precision_score(labels, scores)),
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
    scores, labels = fov_pixels(probabilities, ground_truth, fov_masks)
    return float(roc_auc_score(labels, scores))


def roc_and_pr_curves(probabilities, ground_truth, fov_masks):
    """Pooled FOV curves for plotting: (false positive rate, true positive rate, recall, precision)."""
    scores, labels = fov_pixels(probabilities, ground_truth, fov_masks)
    false_positive_rate, true_positive_rate, _ = roc_curve(labels, scores, drop_intermediate=True)
    precision, recall, _ = precision_recall_curve(labels, scores)
    return false_positive_rate, true_positive_rate, recall, precision
