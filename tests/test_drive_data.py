import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import write_synthetic_drive
from vesselseg.data import drive_data, image_reading


def test_synthetic_tree_loads_with_the_real_encodings(synthetic_drive):
    training = drive_data.load_split(synthetic_drive, "training")
    test = drive_data.load_split(synthetic_drive, "test")
    assert training.ids == [21, 22, 23] and test.ids == [1, 2]
    assert training.images.shape == (3, 96, 80, 3) and training.images.dtype == np.float32
    assert 0.0 <= training.images.min() and training.images.max() <= 1.0
    assert set(np.unique(training.manual1)) == {0, 1} and training.masks.dtype == bool
    # 2nd_manual is stored as palette indices 0/1 and 1st_manual as 0/255: both must read as 0/1.
    np.testing.assert_array_equal(test.manual1, test.manual2)
    assert training.manual2 is None


def test_files_are_paired_by_id_not_by_sort_order(tmp_path):
    root = write_synthetic_drive(tmp_path / "DRIVE", train_ids=(9, 10), test_ids=(1,))
    # Sorted as text, "10" comes before "9"; pairing must still follow the ids.
    training = drive_data.load_split(root, "training")
    assert training.ids == [9, 10]
    expected = image_reading.read_binary_map(root / "training" / "1st_manual" / "10_manual1.gif")
    np.testing.assert_array_equal(training.manual1[1], expected)


@pytest.mark.parametrize("layout", ["input/DRIVE", "input"])
def test_finds_drive_in_either_unzip_layout(tmp_path, monkeypatch, layout):
    write_synthetic_drive(tmp_path / layout, train_ids=(21,), test_ids=(1,))
    monkeypatch.setattr(drive_data, "DEFAULT_INPUT_DIR", tmp_path / "input")
    monkeypatch.delenv("DRIVE_DIR", raising=False)
    assert drive_data.find_drive_dir() == tmp_path / layout


def test_environment_variable_and_argument_override(tmp_path, monkeypatch):
    root = write_synthetic_drive(tmp_path / "elsewhere" / "DRIVE", train_ids=(21,), test_ids=(1,))
    monkeypatch.setenv("DRIVE_DIR", str(root))
    assert drive_data.find_drive_dir() == root
    assert drive_data.find_drive_dir(str(root)) == root
    assert drive_data.find_drive_dir(str(root.parent)) == root  # the folder that holds DRIVE/ works too


def test_missing_folder_says_where_to_unzip(tmp_path, monkeypatch):
    monkeypatch.setattr(drive_data, "DEFAULT_INPUT_DIR", tmp_path / "input")
    monkeypatch.delenv("DRIVE_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="Unzip the DRIVE database into") as error:
        drive_data.find_drive_dir()
    assert "training/1st_manual/21_manual1.gif" in str(error.value)


def test_image_without_annotation_is_named(synthetic_drive):
    (synthetic_drive / "training" / "1st_manual" / "22_manual1.gif").unlink()
    with pytest.raises(FileNotFoundError, match=r"22_training\.tif has no manual1"):
        drive_data.load_split(synthetic_drive, "training")


def test_image_without_mask_is_named(synthetic_drive):
    (synthetic_drive / "test" / "mask" / "02_test_mask.gif").unlink()
    with pytest.raises(FileNotFoundError, match=r"02_test\.tif has no masks"):
        drive_data.load_split(synthetic_drive, "test")


def test_size_mismatch_is_named(synthetic_drive):
    path = synthetic_drive / "training" / "1st_manual" / "21_manual1.gif"
    Image.new("L", (50, 50)).save(path)
    with pytest.raises(ValueError, match="21_manual1.gif is 50x50 but its image"):
        drive_data.load_split(synthetic_drive, "training")


def test_truncated_image_is_named(synthetic_drive):
    path = synthetic_drive / "training" / "images" / "23_training.tif"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="Cannot read .*23_training.tif"):
        drive_data.load_split(synthetic_drive, "training")


def test_unreadable_file_is_named(synthetic_drive):
    (synthetic_drive / "training" / "mask" / "21_training_mask.gif").write_text("not a gif")
    with pytest.raises(ValueError, match="Cannot read .*21_training_mask.gif"):
        drive_data.load_split(synthetic_drive, "training")


def test_annotation_with_more_than_two_levels_is_refused(synthetic_drive):
    path = synthetic_drive / "training" / "1st_manual" / "21_manual1.gif"
    Image.fromarray(np.arange(96 * 80, dtype=np.uint8).reshape(96, 80) % 3 * 100).save(path)
    with pytest.raises(ValueError, match="3 grey levels"):
        drive_data.load_split(synthetic_drive, "training")


def test_missing_split_folder_is_named(synthetic_drive):
    shutil.rmtree(synthetic_drive / "test" / "2nd_manual")
    with pytest.raises(FileNotFoundError, match="2nd_manual"):
        drive_data.load_split(synthetic_drive, "test")


def test_real_drive_loads_whole(drive_dir):
    training = drive_data.load_split(drive_dir, "training")
    test = drive_data.load_split(drive_dir, "test")
    assert training.ids == list(range(21, 41)) and test.ids == list(range(1, 21))
    for split in (training, test):
        assert split.images.shape == (20, 584, 565, 3) and split.images.dtype == np.float32
        assert 0.0 <= split.images.min() and split.images.max() <= 1.0
        assert split.manual1.shape == split.masks.shape == (20, 584, 565)
        assert set(np.unique(split.manual1)) == {0, 1} and split.masks.dtype == bool
        assert 0.12 <= split.manual1[split.masks].mean() <= 0.135
    assert set(np.unique(test.manual2)) == {0, 1}
    assert 0.115 <= test.manual2[test.masks].mean() <= 0.13
    assert test.masks.sum() == 4_538_143
