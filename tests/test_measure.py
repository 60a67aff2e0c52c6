"""Vessel measurements on synthetic maps with known answers, and measure.py's inputs."""

import csv

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage.draw import line
from skimage.morphology import skeletonize

import measure
from vesselseg.measurement import maps as map_files
from vesselseg.measurement import vessel_measures


def bar(width=7, length=200):
    vessels = np.zeros((100, length + 100), dtype=bool)
    vessels[50 - width // 2 : 50 - width // 2 + width, 50 : 50 + length] = True
    return vessels


def test_the_skeleton_in_the_box_is_skeletonize_to_the_bit():
    rng = np.random.default_rng(0)
    for size in ((40, 60), (97, 50)):
        for density in (0.3, 0.55, 0.7):
            # Random blobs, some touching the frame, thinned to many branches and ends.
            mask = ndimage.binary_opening(rng.random(size) < density)
            assert np.array_equal(vessel_measures.skeleton(mask), skeletonize(mask))
    small = np.zeros((30, 30), bool)
    small[10:14, 5:25] = True
    assert np.array_equal(vessel_measures.skeleton(small), skeletonize(small))
    assert not vessel_measures.skeleton(np.zeros((8, 8), bool)).any()


def test_straight_bar():
    values = vessel_measures.measure(bar())
    assert abs(values["mean_width_px"] - 7) <= 0.5
    assert abs(values["tortuosity"] - 1) <= 0.02
    assert values["branch_points"] == 0 and values["end_points"] == 2
    # The skeleton loses about half a width at each end.
    assert abs(values["skeleton_length_px"] - (200 - 7)) <= 0.05 * (200 - 7)
    # The cross-check: vessel area over skeleton length.
    assert abs(values["width_from_area_px"] - 7) <= 0.5


def test_semicircular_arc_has_tortuosity_half_pi():
    rows, columns = np.mgrid[0:300, 0:300]
    radius = np.hypot(rows - 150, columns - 150)
    arc = (radius >= 97) & (radius <= 103) & (rows < 150)
    assert abs(vessel_measures.measure(arc)["tortuosity"] / (np.pi / 2) - 1) <= 0.03


def test_y_shape_has_one_branch_point_and_three_ends():
    skeleton = np.zeros((200, 200), dtype=bool)
    for row, column in ((20, 40), (20, 160), (180, 100)):
        rows, columns = line(row, column, 100, 100)
        skeleton[rows, columns] = True
    values = vessel_measures.measure(ndimage.binary_dilation(skeleton, iterations=2))
    assert values["branch_points"] == 1 and values["end_points"] == 3


def test_segments_are_traced_end_to_end_and_neighbours_counted_as_a_3x3_convolution():
    rng = np.random.default_rng(0)
    skeleton = rng.random((60, 80)) < 0.3
    convolved = ndimage.convolve(skeleton.astype(int), np.ones((3, 3), dtype=int), mode="constant") - 1
    assert np.array_equal(vessel_measures.neighbour_counts(skeleton), np.where(skeleton, convolved, 0))
    # An L-shaped path and a diagonal one, side by side: each traced from its first end in
    # row-major order, every pixel once, each step to an 8-neighbour.
    labels = np.zeros((40, 40), dtype=int)
    labels[5, 5:20] = 1
    labels[5:30, 19] = 1
    rows, columns = line(25, 38, 39, 24)
    labels[rows, columns] = 2
    paths = vessel_measures.segment_paths(labels)
    assert [len(path) for path in paths] == [np.count_nonzero(labels == 1), np.count_nonzero(labels == 2)]
    assert paths[0][0].tolist() == [5, 5] and paths[0][-1].tolist() == [29, 19]
    assert paths[1][0].tolist() == [25, 38] and paths[1][-1].tolist() == [39, 24]
    for path in paths:
        assert np.abs(np.diff(path, axis=0)).max() == 1


def test_paths_are_simplified_as_scikit_image_simplifies_them():
    from skimage.measure import approximate_polygon

    rng = np.random.default_rng(1)
    # Random walks of 8-neighbour steps (wiggly vessels), straight and two-point paths, and a
    # path whose farthest points tie.
    paths = [np.cumsum(rng.integers(-1, 2, (length, 2)), axis=0).astype(float) for length in rng.integers(3, 400, 60)]
    paths += [np.stack([np.arange(50.0), np.zeros(50)], axis=1), np.array([[0.0, 0.0], [1.0, 1.0]])]
    paths += [np.array([[0.0, 0.0], [3.0, 2.0], [0.0, 4.0], [3.0, 6.0], [0.0, 8.0]])]
    chains = vessel_measures.simplified_chains(paths, tolerance=1.0)
    for path, chain in zip(paths, chains):
        assert np.array_equal(path[chain], approximate_polygon(path, tolerance=1.0))
    assert vessel_measures.simplified_chains([]) == []


def test_tortuosity_of_a_straight_path_an_arc_and_a_short_path():
    straight = np.stack([np.arange(40.0), np.arange(40.0)], axis=1)
    angles = np.linspace(0, np.pi, 200)
    arc = np.stack([50 * np.sin(angles), 50 * np.cos(angles)], axis=1)
    short = straight[:5]
    ratios = vessel_measures.path_tortuosities([straight, arc, short])
    assert ratios[0] == pytest.approx(1.0)
    # A half circle: arc over chord is pi / 2, less what the simplification cuts off.
    assert ratios[1] == pytest.approx(np.pi / 2, rel=0.01)
    assert ratios[2] is None


def test_fractal_dimension_of_a_line_and_a_square():
    thin = np.zeros((512, 512), dtype=bool)
    thin[256, 10:500] = True
    assert abs(vessel_measures.fractal_dimension(thin) - 1) <= 0.05
    square = np.zeros((512, 512), dtype=bool)
    square[64:448, 64:448] = True
    assert abs(vessel_measures.fractal_dimension(square) - 2) <= 0.05


def test_vessels_outside_the_fov_are_ignored():
    vessels = bar()
    fov = np.zeros_like(vessels)
    fov[:, :150] = True
    outside = vessels.copy()
    outside[:, 200:] = False
    values = vessel_measures.measure(vessels, fov)
    assert values == vessel_measures.measure(outside & fov, fov)
    assert values["skeleton_length_px"] < 110
    assert values["vessel_fraction"] == pytest.approx(np.count_nonzero(vessels & fov) / fov.sum())


def test_empty_map_and_mismatched_fov_are_errors():
    with pytest.raises(ValueError, match="no vessel pixel"):
        vessel_measures.measure(np.zeros((50, 50), dtype=bool))
    with pytest.raises(ValueError, match="the same size"):
        vessel_measures.measure(bar(), np.ones((10, 10), dtype=bool))


def run(tmp_path, *flags):
    return measure.main(measure.get_args([*map(str, flags), "--output", str(tmp_path / "m.csv")]))


def test_measure_writes_the_columns_and_a_figure_per_map(tmp_path):
    maps = tmp_path / "maps"
    maps.mkdir()
    Image.fromarray(bar().astype(np.uint8) * 255).save(maps / "01_manual1.gif")
    probabilities = np.where(bar(5), 0.9, 0.1).astype(np.float32)
    np.save(maps / "02_prob.npy", probabilities)
    np.save(maps / "03_prob.npy", probabilities)
    run(tmp_path, maps / "01_manual1.gif", "--pixel-size-um", 10)
    with open(tmp_path / "m.csv") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == list(map_files.COLUMNS + map_files.PHYSICAL_COLUMNS + (map_files.NOTE_COLUMN,))
    assert abs(float(rows[0]["mean_width_um"]) - 70) <= 5
    assert (tmp_path / "m_figures" / "01_manual1_widths.png").stat().st_size > 0
    with pytest.raises(FileExistsError, match="--overwrite"):
        run(tmp_path, maps / "01_manual1.gif")
    # Without figures, the same row, and no figures' folder.
    measure.main(
        measure.get_args(
            [str(maps / "01_manual1.gif"), "--pixel-size-um", "10", "--no-figures", "--output", str(tmp_path / "n.csv")]
        )
    )
    with open(tmp_path / "n.csv") as file:
        assert list(csv.DictReader(file)) == rows
    assert not (tmp_path / "n_figures").exists()
    # In a folder of predict.py output, the probability maps are the maps.
    run(tmp_path, maps, "--threshold", 0.5, "--overwrite")
    with open(tmp_path / "m.csv") as file:
        assert [row["image"] for row in csv.DictReader(file)] == ["02_prob.npy", "03_prob.npy"]


def test_predict_outputs_are_cut_at_the_threshold_that_predict_recorded(tmp_path, capsys):
    maps = tmp_path / "maps"
    maps.mkdir()
    probabilities = np.where(bar(5), 0.9, 0.1).astype(np.float32)
    probabilities[bar(9) & ~bar(5)] = 0.4
    np.save(maps / "02_prob.npy", probabilities)
    widths = {}
    for threshold in (0.3, 0.5):
        run(tmp_path, maps, "--threshold", threshold, "--overwrite")
        with open(tmp_path / "m.csv") as file:
            widths[threshold] = next(csv.DictReader(file))["mean_width_px"]
    assert widths[0.3] != widths[0.5]
    (maps / "settings.json").write_text('{"images": "photos", "threshold": 0.3}')
    run(tmp_path, maps, "--overwrite")
    assert "cut at 0.3, the threshold in" in capsys.readouterr().out
    with open(tmp_path / "m.csv") as file:
        assert next(csv.DictReader(file))["mean_width_px"] == widths[0.3]
    run(tmp_path, maps, "--threshold", 0.5, "--overwrite")
    with open(tmp_path / "m.csv") as file:
        assert next(csv.DictReader(file))["mean_width_px"] == widths[0.5]
    # DRIVE mode keeps its threshold in metrics.json; a record without one leaves --threshold required.
    (maps / "settings.json").unlink()
    (maps / "metrics.json").write_text('{"threshold": 0.3}')
    run(tmp_path, maps / "02_prob.npy", "--overwrite")
    with open(tmp_path / "m.csv") as file:
        assert next(csv.DictReader(file))["mean_width_px"] == widths[0.3]
    (maps / "metrics.json").write_text('{"tta": true}')
    with pytest.raises(ValueError, match="pass --threshold"):
        run(tmp_path, maps, "--overwrite")


def test_measure_refuses_bad_inputs_with_clear_messages(tmp_path):
    maps = tmp_path / "maps"
    masks = tmp_path / "masks"
    maps.mkdir()
    masks.mkdir()
    np.save(maps / "a_prob.npy", np.linspace(0, 1, 100 * 300, dtype=np.float32).reshape(100, 300))
    with pytest.raises(ValueError, match="pass --threshold"):
        run(tmp_path, maps / "a_prob.npy")
    assert not (tmp_path / "m_figures").exists()  # a failed run leaves nothing behind
    Image.fromarray(bar().astype(np.uint8) * 255).save(maps / "b.png")
    Image.fromarray(np.full((50, 50), 255, np.uint8)).save(masks / "b_mask.png")
    with pytest.raises(ValueError, match="the same size"):
        run(tmp_path, maps / "b.png", "--masks", masks)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        run(tmp_path, maps / "b.png", "--threshold", 2)
    with pytest.raises(FileNotFoundError, match="neither a file nor a folder"):
        run(tmp_path, tmp_path / "nowhere")


def test_masks_and_photographs_are_matched_before_any_map_is_measured(tmp_path):
    """A --masks or --images folder without a file for every map is refused up front, naming the
    maps, and leaves nothing behind; a map with a leading number does not take the mask of the
    map beside it (10_right is not 10_left)."""
    maps, masks, photographs = (tmp_path / name for name in ("maps", "masks", "photographs"))
    for folder in (maps, masks, photographs):
        folder.mkdir()
    for stem in ("10_left", "10_right"):
        Image.fromarray(bar().astype(np.uint8) * 255).save(maps / f"{stem}.png")
    Image.fromarray(np.full(bar().shape, 255, np.uint8)).save(masks / "10_left_mask.png")
    with pytest.raises(FileNotFoundError, match=r"holds no FOV mask for 1 of the 2 map\(s\) \(10_right.png\)"):
        run(tmp_path, maps, "--masks", masks)
    assert not (tmp_path / "m.csv").exists() and not (tmp_path / "m_figures").exists()
    Image.fromarray(np.full(bar().shape, 255, np.uint8)).save(masks / "10_right_mask.png")
    with pytest.raises(FileNotFoundError, match="holds no photograph for 2 of the 2"):
        run(tmp_path, maps, "--masks", masks, "--images", photographs)
    run(tmp_path, maps, "--masks", masks)
    with open(tmp_path / "m.csv") as file:
        assert [row["image"] for row in csv.DictReader(file)] == ["10_left.png", "10_right.png"]


def test_recursive_maps_take_the_masks_of_their_own_subfolder(tmp_path):
    """With --recursive, P1/eye.png takes masks/P1/eye_mask.png, never masks/P2's; a subfolder
    that --masks lacks is refused before any map is measured."""
    maps, masks = tmp_path / "maps", tmp_path / "masks"
    for patient, width in (("P1", 5), ("P2", 9)):
        (maps / patient).mkdir(parents=True)
        (masks / patient).mkdir(parents=True)
        Image.fromarray(bar(width).astype(np.uint8) * 255).save(maps / patient / "eye.png")
        # Each patient's mask keeps a different part of the bar, so that a swap would show.
        field = np.zeros(bar().shape, np.uint8)
        field[:, : 150 if patient == "P1" else 250] = 255
        Image.fromarray(field).save(masks / patient / "eye_mask.png")
    run(tmp_path, maps, "--recursive", "--masks", masks)
    with open(tmp_path / "m.csv") as file:
        rows = {row["image"]: row for row in csv.DictReader(file)}
    assert abs(float(rows["P1/eye.png"]["skeleton_length_px"]) - 100) <= 6
    assert abs(float(rows["P2/eye.png"]["skeleton_length_px"]) - 200) <= 10
    assert (tmp_path / "m_figures" / "P2" / "eye_widths.png").is_file()
    (maps / "P3").mkdir()
    Image.fromarray(bar().astype(np.uint8) * 255).save(maps / "P3" / "eye.png")
    with pytest.raises(FileNotFoundError, match=r"holds no FOV mask for 1 of the 3 map\(s\) \(P3/eye.png\)"):
        run(tmp_path, maps, "--recursive", "--masks", masks, "--overwrite")


def test_a_colour_photograph_is_not_measured_as_a_map_but_a_map_in_one_colour_is(tmp_path):
    photograph = np.random.default_rng(0).integers(0, 256, (100, 300, 3), dtype=np.uint8)
    Image.fromarray(photograph).save(tmp_path / "eye.png")
    with pytest.raises(ValueError, match="colour photograph, not a vessel map.*predict.py --images"):
        run(tmp_path, tmp_path / "eye.png", "--threshold", 0.5)
    # A probability map drawn in green, as some tools save them, has many levels in one channel only.
    green = np.zeros((100, 300, 3), np.uint8)
    green[..., 1] = np.where(bar(5), 230, 20) + np.random.default_rng(1).integers(0, 10, (100, 300))
    Image.fromarray(green).save(tmp_path / "green.png")
    run(tmp_path, tmp_path / "green.png", "--threshold", 0.5)
    with open(tmp_path / "m.csv") as file:
        assert abs(float(next(csv.DictReader(file))["mean_width_px"]) - 5) <= 1


def test_an_empty_map_is_a_row_with_a_note_and_an_overfull_map_is_flagged(tmp_path):
    """A folder with an empty map and a map that is all vessel: every map gets its row, and neither
    stops the others from being measured."""
    maps = tmp_path / "maps"
    maps.mkdir()
    Image.fromarray(bar().astype(np.uint8) * 255).save(maps / "a.png")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(maps / "empty.png")
    full = np.full((64, 64), 255, np.uint8)
    full[0, 0] = 0  # two grey levels, so that the map reads as binary
    Image.fromarray(full).save(maps / "full.png")
    run(tmp_path, maps)
    with open(tmp_path / "m.csv") as file:
        rows = {row["image"]: row for row in csv.DictReader(file)}
    assert set(rows) == {"a.png", "empty.png", "full.png"}
    assert rows["a.png"]["note"] == ""
    assert rows["empty.png"]["vessel_fraction"] == "0" and "no vessel pixel" in rows["empty.png"]["note"]
    assert rows["empty.png"]["mean_width_px"] == ""
    assert "over-full" in rows["full.png"]["note"]


def random_vessel_maps(count=6, size=160, seed=0):
    """Maps of a few random straight vessels 3-5 px wide, each map different, so that every
    measure varies over the maps and its correlation is defined."""
    rng = np.random.default_rng(seed)
    maps = np.zeros((count, size, size), dtype=bool)
    for vessels in maps:
        for _ in range(rng.integers(3, 7)):
            rows, columns = line(*rng.integers(5, size - 5, 4))
            vessels[rows, columns] = True
        vessels[:] = ndimage.binary_dilation(vessels, iterations=int(rng.integers(1, 3)))
    return maps


def test_choose_threshold_picks_the_threshold_that_reproduces_the_annotation():
    from tools import choose_threshold

    manual = random_vessel_maps()
    # Blurred annotations: cut at 0.5 they give the annotation back, cut lower they are fatter
    # and cut higher thinner, so 0.5 must win.
    probabilities = np.stack([ndimage.gaussian_filter(vessels.astype(float), 1.0) for vessels in manual])
    fovs = np.ones(manual.shape, dtype=bool)
    rows = choose_threshold.threshold_table(probabilities, manual, fovs, [0.15, 0.5, 0.85])
    assert [row[0] for row in rows] == [0.15, 0.5, 0.85]
    assert choose_threshold.best_threshold(rows) == 0.5
    assert rows[1][2] < 0.05 < min(rows[0][2], rows[2][2])
    assert "| 0.5 |" in choose_threshold.format_table(rows)


def test_box_counts_match_a_count_at_each_size_alone():
    from skimage.measure import block_reduce

    rng = np.random.default_rng(3)
    for shape, density in (((584, 565), 0.1), ((389, 584), 0.02), ((97, 131), 0.3)):
        vessels = rng.random(shape) < density
        for sizes in (vessel_measures.BOX_SIZES, (3, 6, 10, 20)):
            expected = [np.count_nonzero(block_reduce(vessels, (size, size), np.max)) for size in sizes]
            assert vessel_measures.box_counts(vessels, sizes) == expected


def test_local_widths_are_the_distance_transform_read_at_the_skeleton():
    rng = np.random.default_rng(4)
    for density in (0.02, 0.1, 0.3):
        vessels = ndimage.binary_dilation(rng.random((120, 150)) < density, iterations=2)
        vessels[:, :3] = True  # vessels that touch the image's edge
        skeleton = vessel_measures.skeletonize(vessels)
        expected = 2.0 * ndimage.distance_transform_edt(vessels)[skeleton] - 1.0
        np.testing.assert_array_equal(vessel_measures.local_widths(vessels, skeleton), expected)
    # A map that is all vessel has no background to measure to: the transform's own convention.
    everything = np.ones((20, 30), dtype=bool)
    expected = 2.0 * ndimage.distance_transform_edt(everything)[everything] - 1.0
    np.testing.assert_array_equal(vessel_measures.local_widths(everything, everything), expected)
