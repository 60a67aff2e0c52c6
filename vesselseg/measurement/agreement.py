"""Agreement of vessel measurements between two sets of maps: Pearson r and relative difference,
the ICC and limits of agreement, and the widths of zone B vessels matched one to one.

values = measure_all(maps, fovs)            # {measure: array over the images}
r, relative_difference = agreement(values["tortuosity"], reference["tortuosity"])
"""

import numpy as np
from scipy import optimize, stats

from vesselseg.measurement import vessel_measures
from vesselseg.measurement.maps import COLUMNS

# The measures that measure.py writes, but the image's name.
MEASURES = COLUMNS[1:]


def measure_all(maps, fovs):
    """{measure: array over the images} of vessel_measures.measure for each map."""
    rows = [vessel_measures.measure(vessels, fov) for vessels, fov in zip(maps, fovs)]
    return {name: np.array([row[name] for row in rows], dtype=float) for name in MEASURES}


def agreement(values, reference):
    """(Pearson r, mean absolute relative difference) of `values` against `reference`."""
    return float(stats.pearsonr(values, reference).statistic), float(
        np.mean(np.abs(values - reference) / np.abs(reference))
    )


def icc_absolute_agreement(values, reference):
    """ICC(A,1) of two raters over the same subjects (McGraw and Wong 1996; Shrout and Fleiss'
    ICC(2,1)): two-way random effects, absolute agreement, single measurement, from the two-way
    ANOVA's mean squares of subjects (rows), raters (columns) and error."""
    ratings = np.stack([np.asarray(values, float), np.asarray(reference, float)], axis=1)
    subjects, raters = ratings.shape
    grand = ratings.mean()
    rows = raters * np.sum((ratings.mean(axis=1) - grand) ** 2) / (subjects - 1)
    columns = subjects * np.sum((ratings.mean(axis=0) - grand) ** 2) / (raters - 1)
    residual = ratings - ratings.mean(axis=1, keepdims=True) - ratings.mean(axis=0, keepdims=True) + grand
    error = np.sum(residual**2) / ((subjects - 1) * (raters - 1))
    return float((rows - error) / (rows + (raters - 1) * error + raters * (columns - error) / subjects))


def matched_pairs(model_vessels, manual_vessels, tolerance):
    """[(manual index, model index)] of the vessels of one class (calibre.zone_vessels' dicts) that
    match one to one: their label points, x and y, paired by the Hungarian assignment of their
    distances, and kept where the pair lies within `tolerance` pixels."""
    if not model_vessels or not manual_vessels:
        return []
    model_points = np.array([(vessel["x"], vessel["y"]) for vessel in model_vessels])
    manual_points = np.array([(vessel["x"], vessel["y"]) for vessel in manual_vessels])
    distances = np.hypot(*(manual_points[:, None, :] - model_points[None, :, :]).transpose(2, 0, 1))
    manual_index, model_index = optimize.linear_sum_assignment(distances)
    close = distances[manual_index, model_index] <= tolerance
    return [(int(i), int(j)) for i, j in zip(manual_index[close], model_index[close])]


def exchanged_widths(model_vessels, manual_vessels, pairs):
    """(model widths, manual widths): the widths in pixels of one class's zone B vessels
    (calibre.zone_vessels' dicts), in the order given, with the widths of the vessels that match,
    `pairs` as matched_pairs gives them, exchanged. Summarised as CRAE or CRVE, the first keeps
    the model's choice of vessels without its width errors on the matched ones, and the second
    keeps the manual choice of vessels with them."""
    model_widths = [vessel["width_px"] for vessel in model_vessels]
    manual_widths = [vessel["width_px"] for vessel in manual_vessels]
    for manual_index, model_index in pairs:
        model_widths[model_index] = manual_vessels[manual_index]["width_px"]
        manual_widths[manual_index] = model_vessels[model_index]["width_px"]
    return model_widths, manual_widths


def agreement_row(values, reference):
    """Agreement of `values` with `reference` over the subjects where both are finite: their means,
    Pearson r, ICC(A,1), the mean difference (values minus reference) with its 95% limits of
    agreement (mean +- 1.96 SD of the differences), the bias as a share of the reference mean, and n."""
    values, reference = np.asarray(values, float), np.asarray(reference, float)
    both = np.isfinite(values) & np.isfinite(reference)
    values, reference = values[both], reference[both]
    if len(values) < 3:
        nan = float("nan")
        return {
            "mean_values": nan,
            "mean_reference": nan,
            "pearson_r": nan,
            "icc": nan,
            "mean_difference": nan,
            "lower_limit": nan,
            "upper_limit": nan,
            "bias_share": nan,
            "n": int(len(values)),
        }
    differences = values - reference
    spread = 1.96 * differences.std(ddof=1)
    return {
        "mean_values": float(values.mean()),
        "mean_reference": float(reference.mean()),
        "pearson_r": float(stats.pearsonr(values, reference).statistic),
        "icc": icc_absolute_agreement(values, reference),
        "mean_difference": float(differences.mean()),
        "lower_limit": float(differences.mean() - spread),
        "upper_limit": float(differences.mean() + spread),
        "bias_share": float(differences.mean() / reference.mean()),
        "n": int(len(values)),
    }
