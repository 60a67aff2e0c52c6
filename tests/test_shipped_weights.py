"""Guards the published result: the shipped scratch+aug weights on the 20 DRIVE test images."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import predict
from drive_data import load_split

# The shipped faithful model measured 0.9791 against 1st_manual (README, Results); this floor
# guards that figure. It is below the 0.980 that issue 5 hoped for, which the faithful recipe
# did not reach (with --tta it gives 0.9804).
MINIMUM_AUC = 0.978


def test_shipped_weights_reach_the_published_auc(tmp_path, drive_dir):
    if not predict.SHIPPED_WEIGHTS.is_file():
        pytest.fail(f"{predict.SHIPPED_WEIGHTS} is missing: the repository ships it")
    output = tmp_path / "out"
    # predict.py run the way a user runs it, with the default (shipped) weights.
    assert predict.main(predict.get_args(["--data-dir", str(drive_dir), "--output-dir", str(output)])) == 0
    test_dir = output / "unet_aug" / "test"
    metrics = json.loads((test_dir / "metrics.json").read_text())

    # An independent count: the saved probability maps, DRIVE's FOV masks and scikit-learn.
    test = load_split(drive_dir, "test")
    maps = np.stack([np.load(test_dir / f"{image_id:02d}_prob.npy") for image_id in test.ids])
    auc = roc_auc_score(test.manual1[test.masks], maps[test.masks])
    assert auc >= MINIMUM_AUC
    assert metrics["vs_1st_manual"]["pooled"]["roc_auc"] == pytest.approx(auc, abs=1e-6)
    provenance = json.loads(predict.SHIPPED_WEIGHTS.with_name("unet_aug.json").read_text())
    assert provenance["auc_vs_1st_manual_float16"] == pytest.approx(auc, abs=1e-4)
