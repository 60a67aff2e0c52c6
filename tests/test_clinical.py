"""Clinical measures on synthetic maps with known answers: calibre, CRAE/CRVE/AVR, the disc, RITE's coding."""

import csv

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from vesselseg import artery_vein
from vesselseg.data.image_reading import read_binary_map
from vesselseg.measurement import calibre, clinical, junctions
from vesselseg.measurement.agreement import agreement_row, exchanged_widths, matched_pairs
from vesselseg.measurement.clinical import measure_photograph, zone_vessel_rows
from vesselseg.measurement.optic_disc import Disc, given_disc, locate_disc, refine_centre
from vesselseg.paths import dataset_dir

SIZE = 600
CENTRE = (300.0, 300.0)
DIAMETER = 80.0


def bar(mask, start, end, width, value=True):
    """Paint a straight bar `width` pixels wide from start to end ((x, y) points) into `mask`: the
    pixels whose centres lie within width / 2 of the segment."""
    start, end = np.asarray(start, float), np.asarray(end, float)
    rows, columns = np.indices(mask.shape)
    points = np.stack([columns, rows], axis=-1).astype(float)
    along = np.clip(((points - start) @ (end - start)) / np.dot(end - start, end - start), 0, 1)
    nearest = start + along[..., None] * (end - start)
    mask[np.hypot(*(points - nearest).transpose(2, 0, 1)) < width / 2] = value
    return mask


def radial_map(widths_by_class, zoom=1):
    """A RITE-coded map with one straight radial vessel per width, from the disc's rim outwards;
    with `zoom`, the whole map, the disc and the widths `zoom` times larger."""
    classes = np.zeros((SIZE * zoom, SIZE * zoom), dtype=np.uint8)
    centre, diameter = np.array(CENTRE) * zoom, DIAMETER * zoom
    vessels = [(code, width) for code, widths in widths_by_class.items() for width in widths]
    for index, (code, width) in enumerate(vessels):
        # Off the axes, so that the pixel grid's steps average out along each vessel.
        angle = 2 * np.pi * index / len(vessels) + 0.2
        direction = np.array([np.cos(angle), np.sin(angle)])
        bar(classes, centre + 0.6 * diameter * direction, centre + 3.2 * diameter * direction, width * zoom, code)
    return classes


def test_six_vessels_of_each_class_give_the_formula_of_their_widths():
    arteries, veins = [9, 8, 7, 6, 5, 4], [12, 11, 10, 9, 8, 7]
    classes = radial_map({artery_vein.ARTERY: arteries, artery_vein.VEIN: veins})
    summary = calibre.clinical_summary(classes, None, Disc(True, CENTRE, DIAMETER))
    assert summary["arterioles"] == 6 and summary["venules"] == 6 and summary["flags"] == ""
    assert summary["crae_px"] == pytest.approx(calibre.knudtson(arteries, 0.88), rel=0.02)
    assert summary["crve_px"] == pytest.approx(calibre.knudtson(veins, 0.95), rel=0.02)
    assert summary["avr"] == pytest.approx(summary["crae_px"] / summary["crve_px"])
    # Without --pixel-size-um, the disc's 80 px stand for 1,800 micrometres.
    assert (
        summary["pixel_size_um"] == pytest.approx(1800 / DIAMETER) and "disc diameter" in summary["pixel_size_source"]
    )
    assert summary["crae_um"] == pytest.approx(summary["crae_px"] * 1800 / DIAMETER)


def test_each_measured_vessel_is_a_row_ranked_by_width_with_the_summarised_six_marked():
    arteries, veins = [9, 8, 7, 6, 5, 4, 3], [12, 11, 10, 9, 8]
    classes = radial_map({artery_vein.ARTERY: arteries, artery_vein.VEIN: veins})
    row = measure_photograph("eye.png", classes, None, disc_centre=CENTRE, disc_diameter=DIAMETER)
    rows = zone_vessel_rows(row)
    assert {vessel["image"] for vessel in rows} == {"eye.png"}
    for zone, (inner, outer) in (("B", calibre.ZONE_B), ("C", calibre.ZONE_C)):
        suffix = "" if zone == "B" else "_zone_c"
        arterioles = [vessel for vessel in rows if (vessel["zone"], vessel["vessel_class"]) == (zone, "arteriole")]
        venules = [vessel for vessel in rows if (vessel["zone"], vessel["vessel_class"]) == (zone, "venule")]
        assert len(arterioles) == 7 and len(venules) == 5, zone
        assert (row[f"arterioles{suffix}"], row[f"venules{suffix}"]) == (7, 5)
        assert [vessel["rank"] for vessel in arterioles] == list(range(1, 8))
        assert [vessel["width_px"] for vessel in arterioles] == pytest.approx(arteries, abs=0.5)
        assert [vessel["summarised"] for vessel in arterioles] == ["yes"] * 6 + ["no"]
        assert [vessel["summarised"] for vessel in venules] == ["yes"] * 5
        # Each zone's CRAE summarises exactly the rows marked so, and follows the known widths.
        summarised = [vessel["width_px"] for vessel in arterioles if vessel["summarised"] == "yes"]
        assert row[f"crae{suffix}_px"] == pytest.approx(calibre.knudtson(summarised, 0.88))
        assert row[f"crae{suffix}_px"] == pytest.approx(calibre.knudtson(arteries[:6], 0.88), rel=0.02)
        assert row[f"crve{suffix}_px"] == pytest.approx(calibre.knudtson(veins, 0.95), rel=0.02)
        assert arterioles[0]["width_um"] == pytest.approx(arterioles[0]["width_px"] * 1800 / DIAMETER)
        # Each row's label point lies in its zone; zone B's are where the clinical figure writes them.
        for vessel in arterioles + venules:
            distance = np.hypot(vessel["x"] - CENTRE[0], vessel["y"] - CENTRE[1])
            assert inner * DIAMETER <= distance <= outer * DIAMETER
    assert row["avr_zone_c"] == pytest.approx(row["crae_zone_c_px"] / row["crve_zone_c_px"])
    # A manifest keeps a pixel size that could not be had as null: the micrometres are left empty.
    assert np.isnan(zone_vessel_rows({**row, "pixel_size_um": None})[0]["width_um"])
    # A manifest line of a version that measured zone B alone, in a cohort resumed after an
    # upgrade, gives zone B's rows.
    older = {key: value for key, value in row.items() if key != "vessels_zone_c"}
    assert [vessel["zone"] for vessel in zone_vessel_rows(older)] == ["B"] * 12


def test_knudtson_pairs_the_widest_with_the_narrowest_and_carries_the_middle():
    # Six: (6,1), (5,2), (4,3) -> three; then the widest of those with the narrowest, the middle carried.
    first = sorted(0.88 * np.hypot(a, b) for a, b in ((6, 1), (5, 2), (4, 3)))
    second = sorted([0.88 * np.hypot(first[2], first[0]), first[1]])
    assert calibre.knudtson([1, 2, 3, 4, 5, 6], 0.88) == pytest.approx(0.88 * np.hypot(second[1], second[0]))
    assert calibre.knudtson([7.0], 0.95) == 7.0 and np.isnan(calibre.knudtson([], 0.95))


def test_a_vessel_at_thirty_degrees_measures_its_true_width():
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    angle = np.deg2rad(30)
    direction = np.array([np.cos(angle), np.sin(angle)])
    bar(mask, np.array(CENTRE) + 0.6 * DIAMETER * direction, np.array(CENTRE) + 3 * DIAMETER * direction, 8.0)
    vessels = calibre.zone_vessels(mask, CENTRE, DIAMETER)
    assert len(vessels) == 1 and vessels[0]["width_px"] == pytest.approx(8.0, abs=0.5)


def test_zone_b_widths_do_not_depend_on_the_photographs_extent():
    # zone_vessels reads a window around the zone; a larger canvas around the same vessels, with
    # a wide vessel outside the window, gives the same vessels, moved by the offset.

    classes = radial_map({artery_vein.ARTERY: [9, 7, 5], artery_vein.VEIN: [12, 10, 8]})
    probability = ndimage.gaussian_filter((classes > 0).astype(np.float32), 1.0)
    offset = (150, 400)
    large_classes = np.zeros((SIZE + 500, SIZE + 700), dtype=np.uint8)
    large_classes[offset[0] : offset[0] + SIZE, offset[1] : offset[1] + SIZE] = classes
    bar(large_classes, (20, 20), (20, 1000), 30, artery_vein.VEIN)
    large_probability = np.zeros(large_classes.shape, np.float32)
    large_probability[offset[0] : offset[0] + SIZE, offset[1] : offset[1] + SIZE] = probability
    large_centre = (CENTRE[0] + offset[1], CENTRE[1] + offset[0])
    for code in (artery_vein.ARTERY, artery_vein.VEIN):
        for read in (None, probability):
            small = calibre.zone_vessels(
                classes == code, CENTRE, DIAMETER, probability=None if read is None else calibre.VesselProbability(read)
            )
            large = calibre.zone_vessels(
                large_classes == code,
                large_centre,
                DIAMETER,
                probability=None if read is None else calibre.VesselProbability(large_probability),
            )
            assert len(small) == len(large) == 3
            for near, far in zip(small, large):
                assert far["width_px"] == pytest.approx(near["width_px"])
                assert (far["x"] - offset[1], far["y"] - offset[0]) == pytest.approx((near["x"], near["y"]))
    # Without a disc there is no zone to read.
    assert calibre.zone_vessels(classes == artery_vein.VEIN, (float("nan"), float("nan")), float("nan")) == []


def test_edge_distances_are_the_distance_transform_to_the_bit():
    rng = np.random.default_rng(3)
    for fill in (0.3, 0.6, 0.9):
        class_map = ndimage.binary_opening(rng.random((90, 120)) < fill)
        rows, columns = np.nonzero(np.ones(class_map.shape, dtype=bool))
        edges = calibre.EdgeDistance(class_map, top=7, left=11)
        # Read in the photograph's pixels, the window's corner at (7, 11); 0 outside the class.
        np.testing.assert_array_equal(
            edges.at(rows + 7, columns + 11), ndimage.distance_transform_edt(class_map)[rows, columns]
        )
    # A window the class fills keeps the transform's own answer.
    full = np.ones((20, 30), dtype=bool)
    np.testing.assert_array_equal(
        calibre.EdgeDistance(full).at([3, 10], [4, 20]), ndimage.distance_transform_edt(full)[[3, 10], [4, 20]]
    )


def test_a_vessel_that_crosses_the_zone_twice_is_counted_once():
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    # A smooth unbranched vessel that runs out through zone B, back in towards the disc, and out again.
    angles = np.linspace(0, 0.9, 60)
    radii = DIAMETER * (1.25 + 0.45 * np.sin(3 * np.pi * angles / 0.9 + np.pi / 2)) + np.linspace(0, 80, 60)
    points = np.stack([CENTRE[0] + radii * np.cos(angles), CENTRE[1] + radii * np.sin(angles)], axis=1)
    for start, end in zip(points, points[1:]):
        bar(mask, start, end, 6.0)
    vessels = calibre.zone_vessels(mask, CENTRE, DIAMETER)
    assert len(vessels) == 1


def vertical_profile(profile):
    """A probability map (SIZE, SIZE) of one vertical vessel running from the disc's rim upwards,
    centred on the disc's column: `profile` of the distance from its centreline, in pixels."""
    columns = np.arange(SIZE, dtype=float)[None, :]
    probability = np.repeat(profile(np.abs(columns - CENTRE[0])), SIZE, axis=0)
    probability[int(CENTRE[1] - 0.6 * DIAMETER) :] = 0.0
    probability[: int(CENTRE[1] - 3 * DIAMETER)] = 0.0
    return probability


def test_widths_from_the_probability_fall_between_pixels():
    # A vessel 6.4 px wide whose probability falls through 0.5 at its true edges, a quarter a
    # pixel: its binary map holds 7 whole pixels across, the probability places the edges between them.
    probability = vertical_profile(lambda distance: np.clip(0.5 + 0.25 * (3.2 - distance), 0, 1))
    vessel = probability >= 0.5
    binary = calibre.zone_vessels(vessel, CENTRE, DIAMETER)
    read = calibre.zone_vessels(
        vessel, CENTRE, DIAMETER, probability=calibre.VesselProbability(probability), source="probability"
    )
    assert binary[0]["width_px"] == pytest.approx(7.0, abs=0.05)
    assert read[0]["width_px"] == pytest.approx(6.4, abs=0.1)
    # Manual labels bring no probability and are read as binary whatever the source.
    assert calibre.zone_vessels(vessel, CENTRE, DIAMETER, source="half-peak")[0]["width_px"] == binary[0]["width_px"]


def test_half_the_peak_reads_a_faint_vessel_as_wide_as_a_confident_one():
    # Two Gaussian profiles of one spread: at 0.5 the fainter reads narrower, at half its own peak
    # both read the full width at half maximum, 2.355 sigma.
    sigma = 3.0
    widths = {}
    for peak in (1.0, 0.8):
        probability = vertical_profile(lambda distance: peak * np.exp(-(distance**2) / (2 * sigma**2)))
        for source in ("probability", "half-peak"):
            vessels = calibre.zone_vessels(
                probability >= 0.5, CENTRE, DIAMETER, probability=calibre.VesselProbability(probability), source=source
            )
            widths[peak, source] = vessels[0]["width_px"]
    assert widths[0.8, "probability"] < widths[1.0, "probability"] - 1.0
    for peak in (1.0, 0.8):
        assert widths[peak, "half-peak"] == pytest.approx(2 * np.sqrt(2 * np.log(2)) * sigma, abs=0.15)


def test_calibrated_half_peak_widths_take_the_offset_in_network_pixels_or_the_factor():
    probability = vertical_profile(lambda distance: np.exp(-(distance**2) / (2 * 3.0**2)))
    vessel = probability >= 0.5

    def width(source, scale=1.0):
        read = calibre.VesselProbability(probability, scale=scale)
        return calibre.zone_vessels(vessel, CENTRE, DIAMETER, probability=read, source=source)[0]["width_px"]

    half_peak = width("half-peak")
    # A network pixel spans two of this photograph's: the offset is taken off twice.
    offset = width("half-peak-offset", scale=2.0)
    assert offset == pytest.approx(half_peak - 2 * calibre.HALF_PEAK_OFFSET_NETWORK_PX)
    assert width("half-peak-factor") == pytest.approx(half_peak * calibre.HALF_PEAK_FACTOR)


def test_a_width_from_the_probability_stops_where_the_other_class_begins():
    # An artery 5 px wide beside a vein 7 px wide, touching: the vessel probability is high across
    # both, and the artery's width must end at the classes' border, not read 12 px.
    classes = np.zeros((SIZE, SIZE), dtype=np.uint8)
    start, end = (CENTRE[0], CENTRE[1] - 0.6 * DIAMETER), (CENTRE[0], CENTRE[1] - 3 * DIAMETER)
    bar(classes, start, end, 6.0, artery_vein.ARTERY)
    bar(classes, (start[0] + 6, start[1]), (end[0] + 6, end[1]), 8.0, artery_vein.VEIN)
    probability = calibre.VesselProbability((classes > 0).astype(float))
    artery = classes == artery_vein.ARTERY
    read = calibre.zone_vessels(artery, CENTRE, DIAMETER, probability=probability, source="probability")
    assert read[0]["width_px"] == pytest.approx(5.0, abs=0.3)
    with pytest.raises(ValueError, match="width source"):
        calibre.zone_vessels(artery, CENTRE, DIAMETER, probability=probability, source="gaussian")


def test_zone_b_vessels_match_one_to_one_within_the_tolerance():
    manual = [{"x": 10.0, "y": 10.0, "width_px": 5.0}, {"x": 50.0, "y": 50.0, "width_px": 7.0}]
    model = [
        {"x": 52.0, "y": 49.0, "width_px": 8.0},
        {"x": 12.0, "y": 10.0, "width_px": 4.0},
        {"x": 90.0, "y": 90.0, "width_px": 9.0},
    ]
    assert sorted(matched_pairs(model, manual, tolerance=4.0)) == [(0, 1), (1, 0)]
    assert matched_pairs(model, manual, tolerance=1.0) == []
    assert matched_pairs([], manual, tolerance=4.0) == []
    # The matched widths change sides; the model's third vessel and no manual one stay unmatched.
    pairs = matched_pairs(model, manual, tolerance=4.0)
    assert exchanged_widths(model, manual, pairs) == ([7.0, 5.0, 9.0], [4.0, 8.0])
    assert exchanged_widths(model, manual, []) == ([8.0, 4.0, 9.0], [5.0, 7.0])


def test_a_large_photographs_classes_are_drawn_at_the_networks_scale():
    size = 1200
    probabilities = np.zeros((size, size, 3), dtype=np.float32)
    probabilities[100:1100, 300:309] = (0.9, 0.1, 0.95)
    probabilities[100:1100, 800:812] = (0.2, 0.7, 0.95)
    # A thin branch that vanishes at the network's scale takes the class of the nearest vessel.
    probabilities[500, 309:400] = (0.1, 0.9, 0.6)
    fov = np.ones((size, size), dtype=bool)
    drawn_at = []

    def classify(small):
        drawn_at.append(small.shape)
        return artery_vein.av_classes(small)

    classes = artery_vein.classes_at_network_scale(probabilities, fov, classify)
    assert drawn_at == [(540, 540, 3)] and classes.shape == (size, size)
    assert np.array_equal(classes != artery_vein.BACKGROUND, probabilities[..., 2] >= 0.5)
    assert set(np.unique(classes[100:1100, 300:309])) == {artery_vein.ARTERY}
    assert set(np.unique(classes[100:1100, 800:812])) == {artery_vein.VEIN}
    assert classes[500, 320] == artery_vein.ARTERY
    # A photograph at the network's scale is classified as it is.
    small = probabilities[::2, ::2][:540, :540]
    assert np.array_equal(
        artery_vein.classes_at_network_scale(small, np.ones((540, 540), bool)), artery_vein.default_classes(small)
    )


def test_a_models_zone_b_is_measured_at_the_networks_scale_on_a_large_photograph(monkeypatch):

    def photograph(zoom):
        """A model's map of four arterioles and four venules, its vessel probability blurred as the
        network blurs it, and a FOV 540 px across, with the whole picture enlarged `zoom` times."""
        classes = radial_map({artery_vein.ARTERY: [7, 6, 5, 4], artery_vein.VEIN: [9, 8, 7, 6]}, zoom)
        probability = ndimage.gaussian_filter((classes > 0).astype(np.float32), 1.0 * zoom)
        centre = (CENTRE[0] * zoom, CENTRE[1] * zoom)
        fov = calibre.zone_mask(classes.shape, centre, 540 * zoom, (0, 0.5))
        disc = Disc(True, centre, DIAMETER * zoom)
        return classes, fov, disc, calibre.VesselProbability(probability, scale=zoom)

    small = calibre.clinical_summary(*photograph(1)[:3], probability=photograph(1)[3], zone_b_scale="network")
    classes, fov, disc, probability = photograph(3)
    measured_at = []
    zone_vessels = calibre.zone_vessels

    def recorded(class_map, *args, **kwargs):
        measured_at.append(class_map.shape)
        return zone_vessels(class_map, *args, **kwargs)

    monkeypatch.setattr(calibre, "zone_vessels", recorded)
    large = calibre.clinical_summary(classes, fov, disc, probability=probability, zone_b_scale="network")
    monkeypatch.undo()
    # Zones B and C of each class, all at the network's scale.
    assert measured_at == [(600, 600)] * 4
    assert (large["arterioles"], large["venules"]) == (small["arterioles"], small["venules"]) == (4, 4)
    # Widths and label points come back in the large photograph's pixels.
    assert large["crae_px"] == pytest.approx(3 * small["crae_px"], rel=0.03)
    assert large["crve_px"] == pytest.approx(3 * small["crve_px"], rel=0.03)
    for name in ("artery", "vein"):
        for near, far in zip(small["vessels"][name], large["vessels"][name]):
            assert np.hypot(far["x"] - 3 * near["x"], far["y"] - 3 * near["y"]) < 6
    # At the photograph's own size the same map is measured by zone_vessels as it stands, and so
    # are manual labels, which bring no probability, whatever the scale asked for.
    at_own_size = calibre.clinical_summary(classes, fov, disc, probability=probability, zone_b_scale="photograph")
    assert at_own_size["vessels"]["artery"] == calibre.zone_vessels(
        classes == artery_vein.ARTERY, disc.centre, disc.diameter_px, fov=fov, probability=probability
    )
    manual = calibre.clinical_summary(classes, fov, disc)
    assert manual["vessels"]["vein"] == calibre.zone_vessels(
        classes == artery_vein.VEIN, disc.centre, disc.diameter_px, fov=fov
    )
    with pytest.raises(ValueError, match="zone B scale"):
        calibre.clinical_summary(classes, fov, disc, probability=probability, zone_b_scale="retina")


def test_predicts_zone_b_scale_reaches_the_measure(tmp_path, monkeypatch):
    from pathlib import Path

    from vesselseg.cohort import work

    size = 1200
    classes = np.zeros((size, size), dtype=np.uint8)
    bar(classes, (600, 700), (600, 1100), 12, artery_vein.ARTERY)
    probability = calibre.VesselProbability((classes > 0).astype(np.float32), scale=size / 540)
    disc = Disc(True, (600.0, 600.0), 160.0)
    monkeypatch.setattr(work, "artery_vein_classes", lambda *args: (classes, disc, probability))
    photograph = work.Photograph(
        Path("eye.png"), np.zeros((size, size, 3), np.float32), np.ones((size, size), bool), "mask", None, {}, []
    )
    rows = {}
    for scale in (None, "network"):
        options = work.Options(figures=False, zone_b_scale=scale)
        rows[scale] = work.clinical_row(tmp_path, photograph, None, options, {}, None)
    expected = {
        scale: calibre.clinical_summary(classes, photograph.fov, disc, probability=probability, zone_b_scale=scale)
        for scale in ("photograph", "network")
    }
    assert rows[None]["vessels"] == expected["photograph"]["vessels"]
    assert rows["network"]["vessels"] == expected["network"]["vessels"]
    assert rows["network"]["vessels"] != rows[None]["vessels"]


@pytest.mark.skipif(dataset_dir("LESAV") is None, reason="LES-AV not found under input/ or ../shared/")
def test_a_profile_read_along_a_vein_is_not_taken_for_its_width():
    # LES-AV 15's manual veins hold two short skeleton spurs at a wide vein's edge in zone B, whose
    # perpendicular profiles run along the vein: read as widths they gave 99 and 75 px.
    lesav = dataset_dir("LESAV")
    labels = artery_vein.read_av_labels(lesav / "av" / "15_av.png")
    fov = read_binary_map(lesav / "mask" / "15_mask.gif").astype(bool)
    veins = calibre.zone_vessels(labels == artery_vein.VEIN, (830.0, 745.0), 310.0, fov=fov)
    widths = [vein["width_px"] for vein in veins]
    assert len(widths) >= 6 and max(widths) < 1.5 * np.median(widths[:6])


def test_an_estimated_disc_over_a_third_of_the_fov_is_flagged():
    classes = radial_map({artery_vein.ARTERY: [8, 6], artery_vein.VEIN: [10, 9, 8]})
    fov = np.zeros(classes.shape, dtype=bool)
    fov[50:550, 50:550] = True
    wide = calibre.clinical_summary(classes, fov, Disc(True, CENTRE, 170.0))
    assert "disc 170 px across, over a third of the FOV: check it or give --disc-diameter" in wide["flags"]
    # The flag names a 45-degree camera's disc, 80 px at DRIVE's 540-px FOV, here 500 px across.
    assert "(a seventh of the FOV, a 45-degree camera's disc, is 74 px)" in wide["flags"]
    assert "over a third" not in calibre.clinical_summary(classes, fov, Disc(True, CENTRE, 160.0))["flags"]
    # A diameter that the user gave is taken as meant.
    given = given_disc(None, 170.0, Disc(True, CENTRE, 150.0))
    assert given.diameter_given and given.source == "estimated centre, given diameter"
    assert "over a third" not in calibre.clinical_summary(classes, fov, given)["flags"]


def test_each_zones_share_inside_the_fov_counts_what_lies_beyond_it_or_the_photograph_as_outside():
    fov = np.zeros((SIZE, SIZE), dtype=bool)
    fov[:, : SIZE // 2] = True
    whole = np.ones((SIZE, SIZE), dtype=bool)

    def share(fov, centre, zone):
        return calibre.zone_in_fov(calibre.zone_mask(fov.shape, centre, DIAMETER, zone) & fov, DIAMETER, zone)

    # Rings of 80-120 px (zone B) and 80-200 px (zone C) about the centre: half of each is inside.
    assert share(fov, CENTRE, calibre.ZONE_B) == pytest.approx(0.5, abs=0.01)
    assert share(fov, CENTRE, calibre.ZONE_C) == pytest.approx(0.5, abs=0.01)
    assert share(whole, CENTRE, calibre.ZONE_C) == pytest.approx(1.0, abs=0.01)
    # At the photograph's corner three quarters of each ring lie beyond its edges.
    assert share(whole, (0.0, 0.0), calibre.ZONE_B) == pytest.approx(0.25, abs=0.01)
    classes = radial_map({artery_vein.ARTERY: [8, 6], artery_vein.VEIN: [10, 9, 8]})
    summary = calibre.clinical_summary(classes, fov, Disc(True, CENTRE, DIAMETER))
    assert summary["zone_b_in_fov"] == pytest.approx(0.5, abs=0.01)
    assert summary["zone_c_in_fov"] == pytest.approx(0.5, abs=0.01)
    lost = calibre.clinical_summary(classes, fov, Disc(False, (float("nan"), float("nan")), float("nan")))
    assert np.isnan(lost["zone_b_in_fov"]) and np.isnan(lost["zone_c_in_fov"])


def test_a_zone_b_that_the_fov_cuts_below_the_share_is_flagged():
    classes = radial_map({artery_vein.ARTERY: [8, 7, 6, 5, 4, 3], artery_vein.VEIN: [10, 9, 8, 7, 6, 5]})
    columns = np.arange(SIZE)[None, :]
    # A FOV whose edge passes beside the disc: 40 px from its centre it leaves 63% of zone B
    # inside, 75 px from it 78%.
    for edge, flagged in ((40, True), (75, False)):
        fov = np.broadcast_to(columns <= CENTRE[0] + edge, (SIZE, SIZE))
        summary = calibre.clinical_summary(classes, fov, Disc(True, CENTRE, DIAMETER))
        words = (
            f"{int(summary['zone_b_in_fov'] * 100)}% of zone B inside the FOV, under 70%: CRAE and CRVE may read low"
        )
        assert (words in summary["flags"]) == flagged, (edge, summary["zone_b_in_fov"], summary["flags"])
        assert summary["zone_b_in_fov"] < calibre.MIN_ZONE_B_IN_FOV if flagged else summary["zone_b_in_fov"] > 0.7
        assert ("under 70% of zone B inside the FOV" in summary["flag_kinds"]) == flagged
    # The whole zone inside: no such flag.
    whole = calibre.clinical_summary(classes, np.ones((SIZE, SIZE), bool), Disc(True, CENTRE, DIAMETER))
    assert "of zone B inside the FOV" not in whole["flags"] and whole["flag_kinds"] == []


def test_fewer_than_six_vessels_and_no_disc_are_flagged():
    classes = radial_map({artery_vein.ARTERY: [8, 6], artery_vein.VEIN: [10, 9, 8]})
    summary = calibre.clinical_summary(classes, None, Disc(True, CENTRE, DIAMETER))
    assert summary["arterioles"] == 2 and summary["venules"] == 3
    assert "2 arterioles in zone B, fewer than 6" in summary["flags"] and "3 venules" in summary["flags"]
    assert summary["flag_kinds"] == ["fewer than 6 arterioles", "fewer than 6 venules"]
    assert summary["crae_px"] == pytest.approx(calibre.knudtson([8, 6], 0.88), rel=0.03)
    one = calibre.clinical_summary(radial_map({artery_vein.ARTERY: [8]}), None, Disc(True, CENTRE, DIAMETER))
    assert "1 arteriole in zone B, fewer than 6" in one["flags"] and "0 venules in zone B" in one["flags"]
    lost = calibre.clinical_summary(classes, None, Disc(False, (float("nan"), float("nan")), float("nan")))
    assert "disc not found" in lost["flags"] and np.isnan(lost["crae_px"]) and lost["pixel_size_source"] == "none"
    assert lost["flag_kinds"][0] == "disc not found"
    given = calibre.clinical_summary(classes, None, Disc(False, CENTRE, DIAMETER), pixel_size_um=10.0)
    assert given["pixel_size_um"] == 10.0 and given["pixel_size_source"] == "--pixel-size-um"


def test_the_user_overrides_the_estimated_disc():
    estimate = Disc(False, (10.0, 20.0), 50.0)
    disc = given_disc((300, 310), None, estimate)
    assert disc.found and disc.centre == (300.0, 310.0) and disc.diameter_px == 50.0
    assert disc.source == "given centre, estimated diameter"
    assert given_disc(None, None, estimate) is estimate


def test_the_disc_is_found_where_a_bright_spot_meets_the_vessels():
    rng = np.random.default_rng(0)
    fov = np.hypot(*(np.indices((SIZE, SIZE)) - SIZE / 2)) < SIZE / 2 - 5
    image = np.full((SIZE, SIZE, 3), 0.35) + rng.normal(0, 0.01, (SIZE, SIZE, 3))
    disc_centre = (430, 280)
    rows, columns = np.indices((SIZE, SIZE))
    image += 0.5 * (np.hypot(columns - disc_centre[0], rows - disc_centre[1]) < 45)[..., None]
    vessels = np.zeros((SIZE, SIZE), dtype=bool)
    # Eight vessels leave the disc from near its centre, and the trunk runs through it vertically.
    for angle in np.linspace(0, 2 * np.pi, 8, endpoint=False):
        direction = np.array([np.cos(angle), np.sin(angle)])
        bar(vessels, np.array(disc_centre) + 20 * direction, np.array(disc_centre) + 250 * direction, 9.0)
    bar(vessels, (disc_centre[0], disc_centre[1] - 250), (disc_centre[0], disc_centre[1] + 250), 9.0)
    image = np.where(vessels[..., None], image * 0.6, image).clip(0, 1) * fov[..., None]
    disc = locate_disc(image, fov, vessels & fov)
    assert disc.found and np.hypot(disc.centre[0] - disc_centre[0], disc.centre[1] - disc_centre[1]) < 10
    assert disc.diameter_px == pytest.approx(90, rel=0.2)
    flat = locate_disc(np.full((SIZE, SIZE, 3), 0.4) * fov[..., None], fov)
    assert not flat.found


def test_the_disc_is_found_from_the_vessel_map_alone_where_its_wide_vessels_converge():
    fov = np.hypot(*(np.indices((SIZE, SIZE)) - SIZE / 2)) < SIZE / 2 - 5
    disc_centre = np.array([430.0, 280.0])
    classes = np.zeros((SIZE, SIZE), dtype=np.uint8)
    # Wide vessels leave the disc in every direction, and narrow ones cross the rest of the FOV.
    for index, angle in enumerate(np.linspace(0, 2 * np.pi, 8, endpoint=False)):
        direction = np.array([np.cos(angle), np.sin(angle)])
        code = artery_vein.ARTERY if index % 2 else artery_vein.VEIN
        bar(classes, disc_centre + 20 * direction, disc_centre + 250 * direction, 9.0, code)
    for row in range(60, SIZE - 60, 70):
        bar(classes, (80.0, float(row)), (330.0, float(row) + 40), 3.0, artery_vein.VEIN)
    classes[~fov] = 0
    disc = clinical.find_disc(classes, fov)
    # Within the disc's radius (40 px here): the densest wide vessels lie beside the empty centre.
    assert disc.found and np.hypot(*(np.array(disc.centre) - disc_centre)) < 40
    assert disc.source == "centre from the vessel map, diameter a seventh of the FOV"
    with pytest.raises(ValueError, match="a photograph or a vessel map"):
        locate_disc(None, fov)


def test_uncertain_vessels_count_as_vessels_for_the_disc():
    """RITE labels many vessels on the disc uncertain; the map's disc is found among them, not at a
    bundle of classed vessels elsewhere."""
    fov = np.hypot(*(np.indices((SIZE, SIZE)) - SIZE / 2)) < SIZE / 2 - 5
    disc_centre = np.array([430.0, 280.0])
    classes = np.zeros((SIZE, SIZE), dtype=np.uint8)
    for angle in np.linspace(0, 2 * np.pi, 8, endpoint=False):
        direction = np.array([np.cos(angle), np.sin(angle)])
        bar(classes, disc_centre + 10 * direction, disc_centre + 90 * direction, 9.0, artery_vein.UNCERTAIN)
        bar(classes, disc_centre + 90 * direction, disc_centre + 250 * direction, 5.0, artery_vein.VEIN)
    # Three wide arteries side by side, far from the disc.
    for column in (140.0, 155.0, 170.0):
        bar(classes, (column, 150.0), (column, 330.0), 9.0, artery_vein.ARTERY)
    classes[~fov] = 0
    disc = clinical.find_disc(classes, fov)
    assert np.hypot(*(np.array(disc.centre) - disc_centre)) < 40


def test_the_trunk_pulls_the_centre_from_the_bright_cup_towards_the_disc_s_centre():
    fov = np.hypot(*(np.indices((SIZE, SIZE)) - SIZE / 2)) < SIZE / 2 - 5
    rows, columns = np.indices((SIZE, SIZE))
    disc_centre, cup_centre = np.array([430.0, 280.0]), np.array([405.0, 280.0])
    image = np.full((SIZE, SIZE, 3), 0.35)
    image += 0.3 * (np.hypot(columns - disc_centre[0], rows - disc_centre[1]) < 45)[..., None]
    image += 0.3 * (np.hypot(columns - cup_centre[0], rows - cup_centre[1]) < 20)[..., None]
    vessels = np.zeros((SIZE, SIZE), dtype=bool)
    # The trunk leaves the disc at its centre, and its wide vessels run towards the nasal side.
    for angle in np.linspace(-np.pi / 3, np.pi / 3, 4):
        direction = np.array([np.cos(angle), np.sin(angle)])
        bar(vessels, disc_centre, disc_centre + 160 * direction, 9.0)
    image = np.where(vessels[..., None], image * 0.6, image).clip(0, 1) * fov[..., None]
    brightest = locate_disc(image, fov, vessels & fov, centre_method="brightest")
    trunk = locate_disc(image, fov, vessels & fov, centre_method="trunk")
    assert np.hypot(*(np.array(trunk.centre) - disc_centre)) < np.hypot(*(np.array(brightest.centre) - disc_centre)) - 5
    # The diameter is read from the brightest spot by either method.
    assert trunk.diameter_px == brightest.diameter_px
    with pytest.raises(ValueError, match="unknown disc centre method"):
        locate_disc(image, fov, vessels & fov, centre_method="middle")


@pytest.mark.parametrize("gap, expected", [(30, "across"), (60, "trunk alone")])
def test_the_centre_across_takes_the_trunk_alone_when_the_bright_spot_is_too_far(gap, expected):
    # A bright spot at (row 200, column 200) and a blob of wide vessels `gap` columns nasal of it and
    # 20 rows lower: within a disc's radius they are the cup and the trunk of one disc.
    size = 400
    rows, columns = np.indices((size, size))
    spot, trunk = np.array([200, 200]), np.array([220, 200 + gap])
    luminance = 0.3 + 0.5 * (np.hypot(rows - spot[0], columns - spot[1]) < 12)
    wide = np.hypot(rows - trunk[0], columns - trunk[1]) < 12
    fov = np.ones((size, size), dtype=bool)
    middle = (spot + trunk) / 2
    centre, found_spot = refine_centre(luminance, fov, middle, method="across", wide=wide)
    assert np.allclose(found_spot, spot, atol=2)
    if expected == "across":
        assert np.allclose(centre, (spot[0], middle[1]), atol=2)
    else:
        assert np.allclose(centre, trunk, atol=2)


def test_rite_coding_is_read_with_the_uncertain_class(tmp_path):
    labels = np.array([[0, 1, 2, 3]], dtype=np.uint8).repeat(4, axis=0)
    Image.fromarray(labels).save(tmp_path / "01_test_av.png")
    read = artery_vein.read_av_labels(tmp_path / "01_test_av.png")
    assert read.tolist() == labels.tolist()
    targets = artery_vein.av_targets(read)
    # Uncertain pixels are vessel, neither artery nor vein, and left out of the artery and vein losses.
    assert targets[0, 3].tolist() == [0, 0, 1, 0] and targets[0, 1].tolist() == [1, 0, 1, 1]
    # predict.py's colour maps read back into the same coding.
    picture = artery_vein.av_colour_map(read)
    Image.fromarray(picture).save(tmp_path / "01_av.png")
    assert artery_vein.read_av_labels(tmp_path / "01_av.png").tolist() == np.where(labels == 3, 0, labels).tolist()
    Image.fromarray(np.full((4, 4), 7, dtype=np.uint8)).save(tmp_path / "bad.png")
    with pytest.raises(ValueError, match="RITE's coding"):
        artery_vein.read_av_labels(tmp_path / "bad.png")


def test_measure_reads_a_map_as_classes_or_as_vessels(tmp_path):
    from vesselseg.measurement.maps import read_av_classes

    labels = np.array([[0, 1, 2, 3]], dtype=np.uint8).repeat(4, axis=0)
    Image.fromarray(labels).save(tmp_path / "coded.png")
    assert read_av_classes(tmp_path / "coded.png").tolist() == labels.tolist()
    # predict.py's colour map reads as classes, with an alpha channel too (another program saved it).
    picture = np.dstack([artery_vein.av_colour_map(labels), np.full((4, 4), 255, dtype=np.uint8)])
    Image.fromarray(picture).save(tmp_path / "colour.png")
    assert read_av_classes(tmp_path / "colour.png").tolist() == np.where(labels == 3, 0, labels).tolist()
    # A binary vessel map, a map without veins and a probability array are vessel maps.
    Image.fromarray(np.where(labels > 0, 255, 0).astype(np.uint8)).save(tmp_path / "binary.png")
    Image.fromarray(np.where(labels == 2, 1, labels).astype(np.uint8)).save(tmp_path / "no_vein.png")
    np.save(tmp_path / "map.npy", labels.astype(np.float32))
    for name in ("binary.png", "no_vein.png", "map.npy"):
        assert read_av_classes(tmp_path / name) is None


def test_av_scores_leave_uncertain_pixels_out():
    labels = np.array([[1, 1, 2, 2, 3, 0]])
    predicted = np.array([[1, 2, 2, 0, 1, 1]])
    scores = artery_vein.av_scores(predicted, labels)
    # Labelled artery or vein: 4 pixels; marked as vessel: 3; of those, right: 2.
    assert scores["accuracy"] == pytest.approx(2 / 3) and scores["detected_fraction"] == pytest.approx(3 / 4)
    assert scores["artery_f1"] == pytest.approx(2 * 1 / (2 + 2))


def write_synthetic_rite(root, drive_dir, split="training", ids=(21, 22, 23)):
    """RITE-coded labels for a synthetic DRIVE tree: its vessels split into arteries (left half)
    and veins (right half), with a few uncertain pixels."""
    from vesselseg.data.image_reading import read_binary_map

    folder = root / split / "av"
    folder.mkdir(parents=True)
    (root / ("test" if split == "training" else "training") / "av").mkdir(parents=True)
    for image_id in ids:
        vessels = read_binary_map(drive_dir / split / "1st_manual" / f"{image_id}_manual1.gif").astype(bool)
        labels = np.zeros(vessels.shape, dtype=np.uint8)
        half = vessels.shape[1] // 2
        labels[:, :half][vessels[:, :half]] = artery_vein.ARTERY
        labels[:, half:][vessels[:, half:]] = artery_vein.VEIN
        labels[:2][vessels[:2]] = artery_vein.UNCERTAIN
        Image.fromarray(labels).save(folder / f"{image_id}_{split}_av.png")
    return root


def test_the_artery_vein_model_trains_resumes_and_predicts(tmp_path):
    import json
    import subprocess
    import sys

    from conftest import PROJECT_DIR, write_dicom, write_synthetic_drive

    drive = write_synthetic_drive(tmp_path / "DRIVE", height=96, width=80)
    rite = write_synthetic_rite(tmp_path / "RITE", drive)
    command = [
        sys.executable,
        str(PROJECT_DIR / "tools" / "train_artery_vein.py"),
        "--data-dir",
        str(drive),
        "--rite-dir",
        str(rite),
        "--output-dir",
        str(tmp_path / "run"),
        "--epochs",
        "2",
        "--lr-drop-epochs",
        "1",
        "--steps-per-epoch",
        "1",
        "--batch-size",
        "4",
        "--crop",
        "32",
        "--validation-images",
        "1",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["task"] == "artery_vein" and config["init_weights"].endswith("unet_camera_scratch/model.weights.h5")
    history = (tmp_path / "run" / "history.csv").read_text()
    assert "val_av_accuracy" in history and len(history.strip().splitlines()) == 3
    # Run again: the finished run is recognised, and nothing is trained twice.
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "already complete" in again.stdout
    # predict.py --images with this model writes the artery/vein map and clinical.csv.
    output = tmp_path / "out"
    predict_command = [
        sys.executable,
        str(PROJECT_DIR / "predict.py"),
        "--images",
        str(drive / "test" / "images"),
        "--av-weights",
        str(tmp_path / "run" / "model.weights.h5"),
        "--output-dir",
        str(output),
        "--no-tta",
    ]
    result = subprocess.run(predict_command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = next(output.glob("*/test_images"))
    assert (folder / "01_test_av.png").is_file() and (folder / "01_test_clinical.png").is_file()
    rows = (folder / "clinical.csv").read_text().splitlines()
    assert rows[0].startswith("image,disc_x,disc_y,disc_diameter_px") and len(rows) == 3
    with open(folder / "clinical.csv") as file:
        measured = sum(
            int(row[f"arterioles{suffix}"]) + int(row[f"venules{suffix}"])
            for row in csv.DictReader(file)
            for suffix in ("", "_zone_c")
        )
    with open(folder / "zone_vessels.csv") as file:
        assert len(list(csv.DictReader(file))) == measured
    picture = np.asarray(Image.open(folder / "01_test_av.png"))
    assert picture.shape[:2] == (96, 80)
    assert {tuple(colour) for colour in picture.reshape(-1, 3)} <= {(0, 0, 0), (255, 0, 0), (0, 0, 255)}
    # A calibrated DICOM photograph's Pixel Spacing gives the micrometres; --pixel-size-um overrides it.
    dicom_folder = tmp_path / "dicom"
    dicom_folder.mkdir()
    photograph = np.asarray(Image.open(drive / "test" / "images" / "01_test.tif").convert("RGB"))
    write_dicom(dicom_folder / "IM000001", photograph, spacing=(0.0125, 0.0125))
    # A second states its camera's field only: the micrometres come from it over the photograph's FOV.
    write_dicom(dicom_folder / "IM000002", photograph, field=45.0)
    for extra, expected in (([], (12.5, "DICOM Pixel Spacing")), (["--pixel-size-um", "9"], (9.0, "--pixel-size-um"))):
        command = [
            *predict_command[:3],
            str(dicom_folder),
            *predict_command[4:],
            "--name",
            f"dicom{len(extra)}",
            *extra,
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        with open(output / f"dicom{len(extra)}" / "dicom" / "clinical.csv") as file:
            rows = {row["image"]: row for row in csv.DictReader(file)}
        row = rows["IM000001"]
        assert (float(row["pixel_size_um"]), row["pixel_size_source"]) == expected
        if not extra:
            fov = read_binary_map(output / "dicom0" / "dicom" / "IM000002_fov.png").astype(bool)
            width = max(np.ptp(np.flatnonzero(fov.any(axis=0))), np.ptp(np.flatnonzero(fov.any(axis=1)))) + 1
            assert float(rows["IM000002"]["pixel_size_um"]) == pytest.approx(45 * 288 / width, rel=1e-5)
            assert rows["IM000002"]["pixel_size_source"].startswith("DICOM Horizontal Field of View: 45-degree")
    # --field-degrees: the field's width on the retina over each photograph's FOV, as saved beside its maps.
    result = subprocess.run(
        [*predict_command, "--name", "field", "--field-degrees", "45"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(output / "field" / "test_images" / "clinical.csv") as file:
        rows = list(csv.DictReader(file))
    for row in rows:
        fov = read_binary_map(output / "field" / "test_images" / f"{row['image'].rsplit('.', 1)[0]}_fov.png").astype(
            bool
        )
        width = max(np.ptp(np.flatnonzero(fov.any(axis=0))), np.ptp(np.flatnonzero(fov.any(axis=1)))) + 1
        assert float(row["pixel_size_um"]) == pytest.approx(45 * 288 / width, rel=1e-5)
        assert row["pixel_size_source"] == f"45-degree field over the FOV's {width} px, 288 um a degree"


def test_the_cameras_field_gives_each_photographs_micrometres_after_the_users_and_dicoms():
    fov = np.zeros((300, 400), dtype=bool)
    rows, columns = np.indices(fov.shape)
    fov[np.hypot(rows - 150, columns - 200) <= 120] = True
    assert clinical.field_pixel_size(45, fov) == (pytest.approx(45 * 288 / 241), 241)
    field = clinical.pixel_size_arguments(None, None, 45, fov)
    assert field == {
        "pixel_size_um": pytest.approx(53.776, abs=1e-3),
        "pixel_size_source": "45-degree field over the FOV's 241 px, 288 um a degree",
    }
    assert clinical.pixel_size_arguments(None, 12.5, 45, fov)["pixel_size_source"] == "DICOM Pixel Spacing"
    # A DICOM photograph's own field comes before the folder's flag, but not a wide-field camera's.
    stated = clinical.pixel_size_arguments(None, None, 45, fov, stated_field_degrees=30)
    assert stated == {
        "pixel_size_um": pytest.approx(30 * 288 / 241),
        "pixel_size_source": "DICOM Horizontal Field of View: 30-degree field over the FOV's 241 px, 288 um a degree",
    }
    assert clinical.pixel_size_arguments(None, None, 45, fov, stated_field_degrees=200) == field
    assert clinical.pixel_size_arguments(None, None, None, fov, stated_field_degrees=200) == {"pixel_size_um": None}
    assert clinical.pixel_size_arguments(None, 12.5, None, fov, stated_field_degrees=30)["pixel_size_um"] == 12.5
    assert clinical.pixel_size_arguments(9.0, None, None, fov, stated_field_degrees=30) == {"pixel_size_um": 9.0}
    assert clinical.pixel_size_arguments(None, None, None, None, stated_field_degrees=30) == {"pixel_size_um": None}
    assert clinical.pixel_size_arguments(9.0, None, None, fov) == {"pixel_size_um": 9.0}
    assert clinical.pixel_size_arguments(None, None, None, fov) == {"pixel_size_um": None}
    # The row takes it, and its micrometres follow: CRAE in um is CRAE in px times the pixel size.
    classes = radial_map({artery_vein.ARTERY: [8, 7, 6, 5, 4, 3], artery_vein.VEIN: [10, 9, 8, 7, 6, 5]})
    row = measure_photograph("eye.png", classes, None, disc_centre=CENTRE, disc_diameter=DIAMETER, **field)
    assert row["crae_um"] == pytest.approx(row["crae_px"] * field["pixel_size_um"])
    clinical.check_field_degrees(45)
    for degrees, pixel_size, words in (
        (200, None, "between 10 and 60.*wide-field camera"),
        (45, 9.0, "not both"),
        (5, None, r"between 10 and 60 \(a conventional fundus camera\), got 5\.$"),
    ):
        with pytest.raises(ValueError, match=words):
            clinical.check_field_degrees(degrees, pixel_size)


def test_measure_reads_artery_vein_labels_and_writes_the_clinical_table(tmp_path):
    import measure

    maps = tmp_path / "av"
    maps.mkdir()
    classes = radial_map({artery_vein.ARTERY: [9, 8, 7, 6, 5, 4], artery_vein.VEIN: [12, 11, 10, 9, 8, 7]})
    Image.fromarray(classes).save(maps / "01_test_av.png")
    output = tmp_path / "m.csv"
    args = measure.get_args(
        [str(maps), "--output", str(output), "--disc-centre", "300", "300", "--disc-diameter", "80"]
    )
    measure.main(args)

    with open(tmp_path / "m_clinical.csv") as file:
        reader = csv.DictReader(file)
        row = next(reader)
    assert reader.fieldnames[:4] == ["image", "disc_x", "disc_y", "disc_diameter_px"]
    assert row["disc_source"] == "given centre, given diameter"
    assert float(row["crae_px"]) == pytest.approx(calibre.knudtson([9, 8, 7, 6, 5, 4], 0.88), rel=0.02)
    assert row["arterioles"] == "6" and (tmp_path / "m_figures" / "01_test_clinical.png").is_file()
    with open(tmp_path / "m_zone_vessels.csv") as file:
        vessels = list(csv.DictReader(file))
    assert len(vessels) == 24 and {vessel["image"] for vessel in vessels} == {"01_test_av.png"}
    assert [vessel["zone"] for vessel in vessels] == ["B"] * 12 + ["C"] * 12

    # The map's photograph in --images, a calibrated DICOM file, gives the micrometres, as it does
    # in predict.py; --pixel-size-um still comes first.
    from conftest import write_dicom

    photographs = tmp_path / "photographs"
    photographs.mkdir()
    write_dicom(photographs / "01_test.dcm", np.zeros((*classes.shape, 3), np.uint8), spacing=(0.0125, 0.0125))
    disc = ["--disc-centre", "300", "300", "--disc-diameter", "80"]
    for extra, expected in (([], (12.5, "DICOM Pixel Spacing")), (["--pixel-size-um", "9"], (9.0, "--pixel-size-um"))):
        calibrated = tmp_path / f"calibrated{len(extra)}.csv"
        measure.main(
            measure.get_args([str(maps), "--output", str(calibrated), "--images", str(photographs), *disc, *extra])
        )
        with open(tmp_path / f"calibrated{len(extra)}_clinical.csv") as file:
            row = next(csv.DictReader(file))
        assert (float(row["pixel_size_um"]), row["pixel_size_source"]) == expected

    # --field-degrees takes the field's width over the map's FOV, so it needs --masks or a saved FOV.
    with pytest.raises(ValueError, match="needs the FOV of 01_test_av.png"):
        measure.main(measure.get_args([str(maps), "--output", str(tmp_path / "f.csv"), *disc, "--field-degrees", "45"]))
    masks = tmp_path / "masks"
    masks.mkdir()
    Image.fromarray(np.pad(np.full((500, 500), 255, np.uint8), 50)).save(masks / "01_test_mask.png")
    measure.main(
        measure.get_args(
            [str(maps), "--output", str(tmp_path / "f.csv"), "--masks", str(masks), *disc, "--field-degrees", "30"]
        )
    )
    with open(tmp_path / "f_clinical.csv") as file:
        row = next(csv.DictReader(file))
    assert float(row["pixel_size_um"]) == pytest.approx(30 * 288 / 500)
    # A DICOM photograph that states its camera's field gives it, before the folder's flag.
    stating = tmp_path / "stating"
    stating.mkdir()
    write_dicom(stating / "01_test.dcm", np.zeros((*classes.shape, 3), np.uint8), field=45.0)
    measure.main(
        measure.get_args(
            [str(maps), "--output", str(tmp_path / "s.csv"), "--masks", str(masks), "--images", str(stating), *disc]
            + ["--field-degrees", "30"]
        )
    )
    with open(tmp_path / "s_clinical.csv") as file:
        row = next(csv.DictReader(file))
    assert float(row["pixel_size_um"]) == pytest.approx(45 * 288 / 500)
    assert row["pixel_size_source"].startswith("DICOM Horizontal Field of View: 45-degree field")


def test_one_class_per_vessel_segment():
    probabilities = np.zeros((50, 60, 3))
    probabilities[20:25, :, 2] = 0.9
    # Along one unbranched vessel the outputs call the left two thirds artery and the rest vein.
    probabilities[20:25, :40, 0], probabilities[20:25, :40, 1] = 0.7, 0.3
    probabilities[20:25, 40:, 0], probabilities[20:25, 40:, 1] = 0.45, 0.55
    assert set(np.unique(artery_vein.av_classes(probabilities)[20:25])) == {artery_vein.ARTERY, artery_vein.VEIN}
    voted = artery_vein.av_classes(probabilities, by_segment=True)
    assert set(np.unique(voted[20:25])) == {artery_vein.ARTERY} and not voted[:20].any()


def test_balanced_classes_give_arteries_the_share_asked_for():
    rng = np.random.default_rng(0)
    probabilities = np.zeros((40, 50, 3))
    probabilities[10:30, :, 2] = 0.9
    # A camera whose vessels the model calls arteries nearly everywhere.
    probabilities[10:30, :, 0] = rng.uniform(0.6, 0.9, (20, 50))
    probabilities[10:30, :, 1] = rng.uniform(0.1, 0.5, (20, 50))
    vessel = probabilities[..., 2] >= 0.5
    assert np.mean(artery_vein.av_classes(probabilities)[vessel] == artery_vein.ARTERY) == 1.0
    balanced = artery_vein.av_classes(probabilities, artery_share=0.45)
    assert np.mean(balanced[vessel] == artery_vein.ARTERY) == pytest.approx(0.45, abs=0.01)
    assert not balanced[~vessel].any()


def segment_of(labels, row, column):
    return int(labels[row, column])


def test_bifurcations_pair_their_three_segments_and_crossings_pair_none():
    from skimage.draw import line

    from vesselseg.measurement.vessel_measures import cut_segments

    # A Y: a trunk from the left forks into two branches at (40, 40).
    fork = np.zeros((80, 100), dtype=bool)
    for end in ((40, 5), (10, 90), (70, 90)):
        fork[line(40, 40, *end)] = True
    labels, count = cut_segments(fork)
    assert count == 3
    pairs = {tuple(pair) for pair in junctions.bifurcation_pairs(fork, labels).tolist()}
    trunk, upper, lower = (segment_of(labels, *point) for point in ((40, 10), (15, 82), (65, 82)))
    assert pairs == {(a, b) for a in (trunk, upper, lower) for b in (trunk, upper, lower) if a != b}
    # An X: two vessels crossing at one point, four segments at one junction.
    cross = np.zeros((80, 80), dtype=bool)
    cross[line(5, 5, 75, 75)] = True
    cross[line(5, 75, 75, 5)] = True
    labels, count = cut_segments(cross)
    assert count == 4 and len(junctions.bifurcation_pairs(cross, labels)) == 0
    # Two vessels crossing drawn as two branch points joined by a short link.
    split = np.zeros((80, 100), dtype=bool)
    split[40, 40:52] = True
    for start, end in (((40, 40), (5, 20)), ((40, 40), (75, 20)), ((40, 51), (5, 80)), ((40, 51), (75, 80))):
        split[line(*start, *end)] = True
    labels, count = cut_segments(split)
    assert count == 5 and len(junctions.bifurcation_pairs(split, labels)) == 0


def test_a_branch_takes_its_trunks_class_at_a_bifurcation():
    from skimage.draw import line
    from skimage.morphology import dilation, disk

    probabilities = np.zeros((80, 100, 3))
    trunk, branches = np.zeros((80, 100), dtype=bool), np.zeros((80, 100), dtype=bool)
    trunk[line(40, 5, 40, 40)] = True
    for end in ((10, 90), (70, 90)):
        branches[line(40, 40, *end)] = True
    trunk, branches = dilation(trunk, disk(2)), dilation(branches, disk(1)) & ~dilation(trunk, disk(1))
    probabilities[trunk | branches, 2] = 0.9
    # The trunk is clearly an artery; the thin branches lean a little towards vein.
    probabilities[trunk, 0], probabilities[trunk, 1] = 0.9, 0.1
    probabilities[branches, 0], probabilities[branches, 1] = 0.45, 0.5
    alone = artery_vein.av_classes(probabilities, by_segment=True)
    shared = artery_vein.av_classes(probabilities, by_segment=True, bifurcation_weight=0.5)
    assert alone[15, 82] == artery_vein.VEIN and alone[40, 10] == artery_vein.ARTERY
    assert shared[15, 82] == artery_vein.ARTERY and shared[65, 82] == artery_vein.ARTERY
    assert np.array_equal(shared > 0, alone > 0)


def test_crossings_pair_the_segments_that_go_on_straight():
    from skimage.draw import line

    from vesselseg.measurement.vessel_measures import cut_segments

    # An X at one junction: a vessel from top left to bottom right crosses one from top right
    # to bottom left, at 60 degrees to each other.
    cross = np.zeros((100, 120), dtype=bool)
    cross[line(20, 25, 80, 95)] = True
    cross[line(20, 95, 80, 25)] = True
    labels, count = cut_segments(cross)
    assert count == 4
    top_left, bottom_right, top_right, bottom_left = (
        segment_of(labels, *point) for point in ((23, 28), (77, 91), (23, 91), (77, 28))
    )
    pairs = {tuple(pair) for pair in junctions.crossing_pairs(cross, labels).tolist()}
    expected = {(top_left, bottom_right), (top_right, bottom_left)}
    assert pairs == expected | {(b, a) for a, b in expected}
    # The same crossing drawn as two branch points joined by a short link.
    split = np.zeros((80, 100), dtype=bool)
    split[40, 40:52] = True
    for start, end in (((40, 40), (5, 10)), ((40, 40), (75, 10)), ((40, 51), (5, 81)), ((40, 51), (75, 81))):
        split[line(*start, *end)] = True
    labels, count = cut_segments(split)
    upper_left, lower_left, upper_right, lower_right = (
        segment_of(labels, *point) for point in ((8, 13), (72, 13), (8, 78), (72, 78))
    )
    pairs = {tuple(pair) for pair in junctions.crossing_pairs(split, labels).tolist()}
    expected = {(upper_left, lower_right), (lower_left, upper_right)}
    assert count == 5 and pairs == expected | {(b, a) for a, b in expected}
    # A bifurcation is no crossing, and four segments fanning out to one side continue none.
    fork = np.zeros((80, 100), dtype=bool)
    for end in ((40, 5), (10, 90), (70, 90)):
        fork[line(40, 40, *end)] = True
    assert len(junctions.crossing_pairs(fork, cut_segments(fork)[0])) == 0
    fan = np.zeros((100, 100), dtype=bool)
    for angle in np.radians([0, 40, 80, 120]):
        fan[line(60, 50, round(60 - 40 * np.sin(angle)), round(50 + 40 * np.cos(angle)))] = True
    labels, count = cut_segments(fan)
    assert count == 4 and len(junctions.crossing_pairs(fan, labels)) == 0
    # A single vessel has no junction at all.
    single = np.zeros((20, 40), dtype=bool)
    single[10, 2:38] = True
    labels, count = cut_segments(single)
    assert count == 1 and len(junctions.crossing_pairs(single, labels)) == 0
    assert len(junctions.bifurcation_pairs(single, labels)) == 0


def test_a_vessel_keeps_its_class_through_a_crossing():
    from skimage.draw import line
    from skimage.morphology import dilation, disk

    probabilities = np.zeros((100, 120, 3))
    artery, vein = np.zeros((100, 120), dtype=bool), np.zeros((100, 120), dtype=bool)
    artery[line(20, 25, 80, 95)] = True
    vein[line(20, 95, 80, 25)] = True
    artery, vein = dilation(artery, disk(1)), dilation(vein, disk(1))
    probabilities[artery | vein, 2] = 0.9
    probabilities[artery, 0], probabilities[artery, 1] = 0.9, 0.1
    probabilities[vein & ~artery, 0], probabilities[vein & ~artery, 1] = 0.1, 0.9
    # The artery's half below the crossing leans towards vein.
    lower_half = artery & (np.arange(100)[:, None] > 52)
    probabilities[lower_half & ~vein, 0], probabilities[lower_half & ~vein, 1] = 0.3, 0.6
    alone = artery_vein.av_classes(probabilities, by_segment=True)
    joined = artery_vein.av_classes(probabilities, by_segment=True, crossing_weight=1.0)
    assert alone[77, 91] == artery_vein.VEIN and alone[23, 28] == artery_vein.ARTERY
    assert joined[77, 91] == artery_vein.ARTERY and joined[23, 28] == artery_vein.ARTERY
    assert joined[23, 91] == artery_vein.VEIN and joined[77, 28] == artery_vein.VEIN
    assert np.array_equal(joined > 0, alone > 0)


def test_scales_average_the_classes_and_keep_the_first_vessel_map():
    first, second = np.zeros((4, 5, 3), dtype=np.float32), np.ones((4, 5, 3), dtype=np.float32)
    first[..., 2] = 0.25
    combined = artery_vein.combine_scales([first, second])
    assert np.allclose(combined[..., :2], 0.5) and np.allclose(combined[..., 2], 0.25)
    assert np.array_equal(artery_vein.combine_scales([first]), first)


def test_bland_altman_figure_is_written_with_missing_figures_left_out(tmp_path):
    from vesselseg.figures import save_bland_altman

    model = [{"crae_px": 8.0 + index, "avr": 0.7} for index in range(5)] + [{"crae_px": float("nan"), "avr": 0.6}]
    manual = [{"crae_px": 8.5 + index, "avr": 0.65} for index in range(6)]
    save_bland_altman(tmp_path / "ba.png", model, manual, ("crae_px", "avr"), "synthetic")
    with Image.open(tmp_path / "ba.png") as figure:
        assert figure.size[0] > figure.size[1] > 100


def test_a_disc_larger_than_drives_sends_the_photograph_to_a_smaller_width():
    drive = artery_vein.DRIVE_DISC_DIAMETER_PX
    assert artery_vein.disc_fov_width(drive, True) == 540
    assert artery_vein.disc_fov_width(1.2 * drive, True) == 540
    assert artery_vein.disc_fov_width(1.4 * drive, True) == round(540 / 1.4)
    assert artery_vein.disc_fov_width(3 * drive, True) == artery_vein.DISC_SCALE_MIN_WIDTH
    assert artery_vein.disc_fov_width(3 * drive, False) == 540
    assert artery_vein.disc_fov_width(float("nan"), True) == 540


def test_a_large_disc_takes_arteries_and_veins_again_at_the_disc_s_scale():
    from pathlib import Path

    from vesselseg.cohort.work import Options, Photograph, artery_vein_classes, segment_again

    size = 200
    columns = np.indices((size, size))[1] / (size - 1)
    first = np.zeros((size, size, 3), dtype=np.float32)
    for column in (40, 60, 140, 160):
        first[20:180, column - 2 : column + 3, 2] = 1.0
    # The first pass leans to arteries on the left; the second, by a gradient the other way, on the right.
    first[..., 0], first[..., 1] = 1 - columns, columns
    seen = []

    def forward(batch):
        seen.append(batch.shape)
        gradient = np.broadcast_to(np.linspace(0, 1, batch.shape[2], dtype=np.float32), batch.shape[:3])
        return np.stack([gradient, 1 - gradient, np.zeros_like(gradient)], axis=-1)

    networks = {"artery_vein": (forward, "fov_standardise")}
    image = np.full((size, size, 3), 0.5, dtype=np.float32)
    photograph = Photograph(Path("eye.png"), image, np.ones((size, size), bool), "mask", None, {}, [])

    # A disc of 20 px is 54 px at FOV 540 (this FOV is 200 px across): no second pass.
    small = Options(tta=False, disc_centre=(100.0, 100.0), disc_diameter=20.0)
    # The vessel model's map is the first pass's vessel output here, whichever source draws the classes.
    vessels = first[..., 2].copy()
    classes, disc, under = artery_vein_classes(photograph, first, small, networks, vessels)
    assert not seen and disc.diameter_px == 20.0
    # The widths are read from the first pass's vessel output; a network pixel spans 200 / 540 here.
    assert under.values is not vessels and np.array_equal(under.values, first[..., 2])
    assert under.scale == pytest.approx(200 / 540)
    assert np.array_equal(classes, artery_vein.default_classes(first))

    # A disc of 40 px is 108 px at FOV 540, 1.45 times DRIVE's: taken again at FOV 373 px, with
    # the artery and vein outputs of that pass and the vessel output of the first.
    large = Options(tta=False, disc_centre=(100.0, 100.0), disc_diameter=40.0)
    classes, _, under = artery_vein_classes(photograph, first, large, networks, vessels)
    assert len(seen) == 1 and 373 <= seen[0][2] < 373 + 64
    expected = segment_again(photograph, "artery_vein", 373, networks, large)
    expected[..., 2] = first[..., 2]
    assert np.array_equal(classes, artery_vein.default_classes(expected))
    assert np.array_equal(classes != artery_vein.BACKGROUND, first[..., 2] >= 0.5)
    assert classes[100, 40] == artery_vein.VEIN and classes[100, 160] == artery_vein.ARTERY
    assert artery_vein.default_classes(first)[100, 40] == artery_vein.ARTERY


def test_width_labels_that_would_overlap_a_wider_one_are_left_out():
    from vesselseg.figures import separate_boxes

    # The second overlaps the first; the third touches the first only at its edge; the fourth
    # overlaps the third, which was kept.
    boxes = [(0, 0, 10, 10), (5, 5, 15, 15), (10, 0, 20, 10), (18, 8, 30, 20)]
    assert separate_boxes(boxes) == [0, 2]
    assert separate_boxes([]) == []


def test_the_clinical_figures_key_is_wrapped_to_the_photographs_width():
    from PIL import Image, ImageDraw

    from vesselseg.figures import text_font, wrap_text

    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    font = text_font(11)
    key = "red artery, blue vein; widths in µm. CRAE 184.8, CRVE 267.5, AVR 0.69; 4 venules in zone B, fewer than 6"
    lines = wrap_text(draw, key, 200, font)
    assert len(lines) > 1 and " ".join(lines) == key
    assert all(draw.textlength(line, font=font) <= 200 for line in lines)
    assert wrap_text(draw, "unbreakable" * 10, 50, font) == ["unbreakable" * 10]
    # The font draws the micro sign, not the empty box of a glyph it lacks (a private-use character).
    assert bytes(font.getmask("µ")) != bytes(font.getmask("\ue000"))


def test_the_clinical_figure_draws_zone_b_whole_and_zone_cs_outer_edge_dashed(tmp_path):

    from vesselseg.figures import save_clinical_figure
    from vesselseg.measurement.calibre import ZONE_B, ZONE_C

    row = {"pixel_size_um": np.nan, "avr": 0.7, "avr_zone_c": 0.6, "flags": "", "vessels": {"artery": [], "vein": []}}
    row.update(crae_px=10.0, crve_px=14.0, crae_zone_c_px=9.0, crve_zone_c_px=15.0)
    row.update(disc_x=200.0, disc_y=200.0, disc_diameter_px=60.0)
    photograph = np.zeros((400, 400, 3), dtype=np.float32)
    save_clinical_figure(tmp_path / "figure.png", photograph, np.zeros((400, 400), dtype=np.uint8), row)
    figure = np.asarray(Image.open(tmp_path / "figure.png").convert("RGB"))
    # Widened by a pixel, since the rings are a pixel wide and sampled at rounded points.
    yellow = ndimage.binary_dilation((figure[..., 0] > 200) & (figure[..., 1] > 200) & (figure[..., 2] < 100))
    angles = np.radians(np.arange(0, 360, 0.5))

    def share_drawn(radius):
        """The share of the ring of `radius` about the disc's centre drawn yellow."""
        rows = np.round(200 + radius * np.sin(angles)).astype(int)
        columns = np.round(200 + radius * np.cos(angles)).astype(int)
        return yellow[rows, columns].mean()

    assert share_drawn(ZONE_B[0] * 60) > 0.95 and share_drawn(ZONE_B[1] * 60) > 0.95
    assert 0.3 < share_drawn(ZONE_C[1] * 60) < 0.7
    assert share_drawn(2.0 * 60) == 0
    # A ring that reaches past the photograph's lower edge stops there, short of the key under it.
    row.update(disc_y=380.0)
    save_clinical_figure(tmp_path / "low.png", photograph, np.zeros((400, 400), dtype=np.uint8), row)
    low = np.asarray(Image.open(tmp_path / "low.png").convert("RGB"))
    ring = (low[..., 0] > 200) & (low[..., 1] > 200) & (low[..., 2] < 100)
    assert low.shape[0] > 400 and ring[:400].any() and not ring[400:].any()


def test_the_clinical_figure_of_a_small_photograph_is_enlarged_and_says_none_for_a_missing_figure(tmp_path):
    from vesselseg.figures import FIGURE_MIN_WIDTH, clinical_key, save_clinical_figure

    row = {"pixel_size_um": np.nan, "avr": np.nan, "avr_zone_c": 0.6, "vessels": {"artery": [], "vein": []}}
    row.update(crae_px=2.0, crve_px=np.nan, crae_zone_c_px=1.8, crve_zone_c_px=3.0, flags="0 venules in zone B")
    row.update(disc_x=20.0, disc_y=50.0, disc_diameter_px=10.0)
    photograph = np.zeros((100, 100, 3), dtype=np.float32)
    save_clinical_figure(tmp_path / "small.png", photograph, np.zeros((100, 100), dtype=np.uint8), row)
    figure = np.asarray(Image.open(tmp_path / "small.png").convert("RGB"))
    zoom = FIGURE_MIN_WIDTH / 100
    assert figure.shape[1] == FIGURE_MIN_WIDTH
    # The disc's white ring lies at its place in the enlarged photograph, not in its top-left corner.
    white = (figure[: 100 * int(zoom)] > 200).all(axis=-1)
    rows, columns = np.nonzero(white)
    assert abs(rows.mean() - 50 * zoom) < 2 and abs(columns.mean() - 20 * zoom) < 2
    assert rows.max() - rows.min() == pytest.approx(10 * zoom, abs=3)
    # The key, under the photograph, wraps to a few lines at the smallest text size.
    assert figure.shape[0] - 100 * zoom < 4 * int(11 * 1.3) + 24
    # A figure that could not be measured reads "none", not "nan".
    assert "CRAE 2.0, CRVE none, AVR none (zone C: CRAE 1.8, CRVE 3.0, AVR 0.60)" in clinical_key(row)


def test_the_classes_take_the_vessel_models_map_only_where_the_camera_is_not_drives():
    fov = np.ones((540, 540), dtype=bool)
    drive_sized = Disc(True, (270.0, 270.0), artery_vein.DRIVE_DISC_DIAMETER_PX)
    large = Disc(True, (270.0, 270.0), 1.5 * artery_vein.DRIVE_DISC_DIAMETER_PX)
    not_found = Disc(False, (270.0, 270.0), 1.5 * artery_vein.DRIVE_DISC_DIAMETER_PX)
    under = artery_vein.vessel_model_under_classes
    assert not under("other-camera", drive_sized, fov, 540)
    assert under("other-camera", large, fov, 540)
    assert not under("other-camera", not_found, fov, 540)
    assert under("vessel-model", drive_sized, fov, 540) and not under("artery-vein", large, fov, 540)
    with pytest.raises(ValueError, match="vessel-model"):
        under("both", large, fov, 540)


def test_the_vessel_models_map_is_made_only_when_the_classes_take_it():
    fov = np.ones((540, 540), dtype=bool)
    drive_sized = Disc(True, (270.0, 270.0), artery_vein.DRIVE_DISC_DIAMETER_PX)
    large = Disc(True, (270.0, 270.0), 1.5 * artery_vein.DRIVE_DISC_DIAMETER_PX)
    probabilities = np.zeros((540, 540, 3), dtype=np.float32)
    probabilities[:, 10:14, 2] = 0.8
    vessels = np.zeros((540, 540), dtype=np.float32)
    vessels[:, 40:45] = 0.7
    calls = []

    def vessel_map():
        calls.append(1)
        return vessels

    kept, probability, drawn = artery_vein.vessels_under_classes(probabilities, drive_sized, fov, 540, 2.0, vessel_map)
    assert not drawn and not calls and kept is probabilities
    assert np.array_equal(probability.values, probabilities[..., 2])
    assert (probability.level, probability.scale) == (artery_vein.VESSEL_THRESHOLD, 2.0)
    drawn_on, probability, drawn = artery_vein.vessels_under_classes(
        probabilities, large, fov, 540, 2.0, vessel_map, threshold=0.6
    )
    assert drawn and len(calls) == 1
    assert np.array_equal(drawn_on[..., 2], vessels >= 0.6) and probabilities[0, 40, 2] == 0
    assert probability.values is vessels and (probability.level, probability.scale) == (0.6, 2.0)


def test_a_large_disc_draws_the_classes_on_the_vessel_models_map():
    from pathlib import Path

    from vesselseg.cohort.work import Options, Photograph, artery_vein_classes

    size = 200
    first = np.zeros((size, size, 3), dtype=np.float32)
    first[20:180, 38:43, 2] = 1.0
    first[..., 0] = 1.0
    # The vessel model finds a second vessel that the artery/vein model's vessel output missed.
    vessels = first[..., 2].copy()
    vessels[20:180, 158:163] = 0.9

    def forward(batch):
        ones = np.ones(batch.shape[:3], dtype=np.float32)
        return np.stack([ones, 0 * ones, 0 * ones], axis=-1)

    networks = {"artery_vein": (forward, "fov_standardise")}
    photograph = Photograph(
        Path("eye.png"), np.full((size, size, 3), 0.5, np.float32), np.ones((size, size), bool), "mask", None, {}, []
    )
    small = Options(tta=False, disc_centre=(100.0, 100.0), disc_diameter=20.0)
    classes, _, under = artery_vein_classes(photograph, first, small, networks, vessels)
    assert np.array_equal(classes != artery_vein.BACKGROUND, first[..., 2] >= 0.5)
    large = Options(tta=False, disc_centre=(100.0, 100.0), disc_diameter=40.0)
    classes, _, under = artery_vein_classes(photograph, first, large, networks, vessels)
    assert artery_vein.AV_VESSELS == "other-camera"
    assert np.array_equal(classes != artery_vein.BACKGROUND, vessels >= 0.5)
    # The widths are read from the map the classes were drawn on.
    assert under.values is vessels and under.level == Options().threshold


def test_the_agreement_report_summarises_the_matched_widths():
    from tools import artery_vein_agreement

    rows = [
        {
            "crae_px": 8.0 + index,
            "crve_px": 12.0 - index,
            "avr": 0.6 + index / 50,
            "crae_zone_c_px": 9.0 + index,
            "crve_zone_c_px": 13.0 - index,
            "avr_zone_c": 0.65 + index / 50,
            "disc_diameter_px": 80.0,
            "vessels": {"artery": [], "vein": []},
        }
        for index in range(4)
    ]
    pooled = {"accuracy": 0.9, "detected_fraction": 0.8, "artery_f1": 0.7, "vein_f1": 0.75}
    # Two vessels of a DRIVE-sized photograph and one of a photograph at twice the network's scale.
    matched = [
        {"class": kind, "manual_width_px": manual, "model_width_px": model, "network_pixel_px": scale}
        for kind, manual, model, scale in (
            ("artery", 5.0, 6.0, 1.0),
            ("vein", 8.0, 7.0, 1.0),
            ("vein", 10.0, 14.0, 2.0),
        )
    ]
    lines = artery_vein_agreement.tables("validation", pooled, None, rows, rows, matched)
    report = "\n".join(lines)
    # Zone C's figures are rows of the same table, below zone B's.
    assert (
        report.index("| avr |") < report.index("| crae_zone_c_px | 10.500 | 10.500 |") < report.index("| avr_zone_c |")
    )
    assert "3 (1 arterioles, 2 venules)" in report
    # Differences +1, -1 and +4 px: +4/3 px on average, +(1 - 1 + 2)/3 network pixels; SD of (1, -1, 4).
    assert "+1.33 px on average (+0.667 of the network's pixels)" in report
    assert f"standard deviation {np.std([1, -1, 4], ddof=1):.2f} px" in report
    assert f"the manual widths' mean over the model's {23 / 27:.4f}" in report


def test_the_agreement_report_tells_the_widths_from_the_choice_of_vessels():
    from tools import artery_vein_agreement

    def vessels(widths, first_x=100.0):
        return [{"x": first_x + 30.0 * index, "y": 100.0, "width_px": width} for index, width in enumerate(widths)]

    manual_rows, model_rows = [], []
    for index in range(4):
        arteries = [4.0 + 0.5 * index + 0.3 * step for step in range(6)]
        veins = [6.0 + 0.7 * index + 0.4 * step for step in range(6)]
        manual = {"artery": vessels(arteries), "vein": vessels(veins)}
        # The model reads arterioles 1 px wide and venules 0.5 px narrow; it finds an extra narrow
        # arteriole in photographs 0 and 2, and an extra wide venule in 1 and 3, far from the others.
        model = {"artery": vessels([width + 1.0 for width in arteries]), "vein": vessels([w - 0.5 for w in veins])}
        if index % 2 == 0:
            model["artery"] += vessels([0.5], first_x=900.0)
        else:
            # The manual labels call a narrow vessel there an arteriole.
            model["vein"] = vessels([30.0], first_x=900.0) + model["vein"]
            manual["artery"] += vessels([0.5], first_x=900.0)
        for rows, drawn in ((manual_rows, manual), (model_rows, model)):
            crae = calibre.knudtson(sorted(vessel["width_px"] for vessel in drawn["artery"])[-6:], 0.88)
            crve = calibre.knudtson(sorted(vessel["width_px"] for vessel in drawn["vein"])[-6:], 0.95)
            rows.append({"disc_diameter_px": 80.0, "vessels": drawn, "crae_px": crae, "crve_px": crve})
    report = "\n".join(artery_vein_agreement.exchanged_lines(model_rows, manual_rows))
    # At the manual widths, the model's arterioles give the manual CRAE: the extra one is too
    # narrow to be among the six widest.
    assert "the model's vessels at their matches' manual widths 1.000 / " in report
    shifted = [
        calibre.knudtson([width + 1.0 for width in 4.0 + 0.5 * index + 0.3 * np.arange(6)], 0.88) for index in range(4)
    ]
    expected = agreement_row(np.array(shifted), np.array([row["crae_px"] for row in manual_rows]))
    assert f"the manual vessels at their matches' model widths {expected['icc']:.3f} / " in report
    # The wide venule that only the model finds lies where the manual labels have an arteriole.
    assert "| arterioles | 6.5 / 6.5 | 0 of 24 / 0 of 24 | 0 / 0 |" in report
    assert "| venules | 6.5 / 6.0 | 2 of 24 / 0 of 24 | 2 / 0 |" in report


def test_matched_vessels_are_written_with_their_bland_altman_figure(tmp_path):
    from tools import artery_vein_agreement

    def vessel(x, width):
        return {"x": x, "y": 100.0, "width_px": width}

    model_row = {"vessels": {"artery": [vessel(10.0, 6.0), vessel(50.0, 5.0)], "vein": [vessel(90.0, 9.0)]}}
    manual_row = {"vessels": {"artery": [vessel(12.0, 5.5)], "vein": [vessel(89.0, 8.0), vessel(200.0, 7.0)]}}
    matched = artery_vein_agreement.matched_vessels("01", model_row, manual_row, tolerance=8.0, scale=1.0)
    assert [(vessel["class"], vessel["manual_width_px"], vessel["model_width_px"]) for vessel in matched] == [
        ("artery", 5.5, 6.0),
        ("vein", 8.0, 9.0),
    ]
    artery_vein_agreement.write_matched_vessels(tmp_path, "validation", matched * 3)
    with open(tmp_path / "matched_vessels.csv") as file:
        lines = file.read().splitlines()
    assert lines[0] == ",".join(artery_vein_agreement.MATCHED_COLUMNS) and len(lines) == 7
    assert Image.open(tmp_path / "bland_altman_vessels.png").size[0] > 500
