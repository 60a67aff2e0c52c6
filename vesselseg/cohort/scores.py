"""Pooled scores of a folder of any size, from running sums: memory does not grow with the folder.

    scores = StreamingScores(threshold=0.5)
    scores.add(probabilities, annotation, fov)      # one photograph at a time, any size
    scores.pooled()                                 # metrics.evaluate's "pooled" dict

The exact pooled AUC sorts every FOV pixel of every photograph together, so its memory grows with
the folder. Here each pixel is counted into a bin of its probability, vessel and background apart,
and the ROC and precision-recall curves are drawn through the bin edges; two pixels that share a
bin count as tied. The bins are the float32 numbers themselves with the last 8 of their 23
mantissa bits dropped: 32,768 bins to each power of two from 2^-24 to 1, so that every bin is
narrower than 1/32,768 of its probability, near 0 and 1 (where most pixels lie) as near 0.5, and a
model whose probabilities crowd into a narrow band still has them apart. Their 13 MB do not grow
with the folder. The scores at the chosen threshold come from exact counts, not from bins
(docs/performance.md gives the difference from the exact AUC on CHASE_DB1 and DRIVE).
"""

import numpy as np

from metrics import (
    average_precision_from_counts,
    check_inputs,
    roc_auc_from_counts,
    scores_from_counts,
)

# A float32's bits, as an integer, grow with its value. Dropping DROPPED_BITS of the mantissa
# leaves MANTISSA_BITS; probabilities below 2^-LOWEST_EXPONENT share the first bin.
MANTISSA_BITS, DROPPED_BITS = 15, 8
LOWEST_EXPONENT = 24
FIRST_BIN = (127 - LOWEST_EXPONENT) << MANTISSA_BITS
BINS = ((127 << MANTISSA_BITS) + 1) - FIRST_BIN


def probability_bins(probabilities):
    """The bin index (0..BINS-1) of each probability in [0, 1], in increasing order of probability."""
    bits = np.asarray(probabilities, dtype=np.float32).view(np.int32) >> DROPPED_BITS
    return np.clip(bits.astype(np.int64) - FIRST_BIN, 0, BINS - 1)


def bin_probability(index):
    """The probability at the lower edge of bin `index`."""
    bits = (np.asarray(index, dtype=np.int64) + FIRST_BIN) << DROPPED_BITS
    return float(np.asarray(bits, dtype=np.int32).view(np.float32))


class StreamingScores:
    """Running sums of the FOV pixels' scores: two histograms and the counts at `threshold`."""

    def __init__(self, threshold=0.5):
        self.threshold = threshold
        self.vessel = np.zeros(BINS, dtype=np.int64)
        self.background = np.zeros(BINS, dtype=np.int64)
        self.counts = np.zeros(4, dtype=np.int64)  # tp, fp, fn, tn at the threshold
        self.photographs = 0

    def add(self, probabilities, annotation, fov):
        """Count one photograph's FOV pixels: probabilities, annotation and FOV of one size."""
        probabilities, annotation, fov = check_inputs(probabilities, annotation, fov)
        scores, labels = probabilities[fov], annotation[fov]
        bins = probability_bins(scores)
        self.vessel += np.bincount(bins[labels], minlength=BINS)
        self.background += np.bincount(bins[~labels], minlength=BINS)
        predicted = scores >= self.threshold
        tp = np.count_nonzero(predicted & labels)
        fp = np.count_nonzero(predicted & ~labels)
        fn = np.count_nonzero(~predicted & labels)
        self.counts += (tp, fp, fn, labels.size - tp - fp - fn)
        self.photographs += 1

    def merge(self, other):
        """Add another StreamingScores' sums (of other photographs) to these."""
        self.vessel += other.vessel
        self.background += other.background
        self.counts += other.counts
        self.photographs += other.photographs
        return self

    def pooled(self):
        """metrics.evaluate's pooled dict: ROC AUC, PR AUC, vessel fraction, FOV pixels, and the
        scores at the threshold (exact) and at the best-F1 bin edge."""
        if not self.vessel.any() or not self.background.any():
            raise ValueError("the annotations hold only one class inside the FOV; nothing to score.")
        occupied = np.flatnonzero(self.vessel + self.background)[::-1]
        true_positives = np.cumsum(self.vessel[occupied])
        false_positives = np.cumsum(self.background[occupied])
        positives, negatives = true_positives[-1], false_positives[-1]
        f1 = 2 * true_positives / (true_positives + false_positives + positives)
        best = len(f1) - 1 - int(np.argmax(f1[::-1]))
        tp, fp = int(true_positives[best]), int(false_positives[best])
        return {
            "roc_auc": roc_auc_from_counts(true_positives, false_positives),
            "pr_auc": average_precision_from_counts(true_positives, false_positives),
            "vessel_fraction": float(positives / (positives + negatives)),
            "fov_pixels": int(positives + negatives),
            "at_threshold": scores_from_counts(*(int(count) for count in self.counts), self.threshold),
            "at_best_f1": scores_from_counts(
                tp, fp, int(positives) - tp, int(negatives) - fp, bin_probability(occupied[best])
            ),
        }
