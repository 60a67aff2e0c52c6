import h5py
import keras
import numpy as np
import pytest

from vesselseg import unet


@pytest.mark.parametrize("encoder", unet.ENCODERS)
@pytest.mark.parametrize("height, width", [(64, 64), (32, 96), (112, 48)])
def test_output_has_the_input_size(encoder, height, width):
    model = unet.build_unet(encoder, vgg_weights=None)
    output = model.predict(np.random.rand(2, height, width, 3).astype("float32"), verbose=0)
    assert output.shape == (2, height, width, 1)
    assert 0.0 <= output.min() and output.max() <= 1.0


def test_scratch_parameter_count_is_the_blogs():
    assert unet.build_unet("scratch").count_params() == 7_760_097


def test_layer_names_read_well():
    names = {layer.name for layer in unet.build_unet("scratch").layers}
    assert {"encoder1_conv1", "bottom_conv2", "decoder4_upsample", "decoder1_concat", "vessel_probability"} <= names


@pytest.mark.parametrize("shape", [(60, 64, 3), (64, 100, 3)])
def test_sizes_not_divisible_by_16_are_refused(shape):
    with pytest.raises(ValueError, match="multiple of 16"):
        unet.build_unet("scratch", input_shape=shape)


def test_unknown_encoder_is_refused():
    with pytest.raises(ValueError, match="encoder must be one of"):
        unet.build_unet("resnet")


def test_vgg16_loads_a_local_weights_file_by_layer(tmp_path):
    # A VGG16 with random weights stands in for the ImageNet file, saved in the same legacy
    # HDF5 layout as the official notop file (one group per layer, weight_names attributes).
    source = keras.applications.VGG16(include_top=False, weights=None)
    path = tmp_path / unet.VGG16_NOTOP_FILE
    with h5py.File(path, "w") as file:
        file.attrs["layer_names"] = [layer.name.encode() for layer in source.layers]
        for layer in source.layers:
            group = file.create_group(layer.name)
            names = [f"{layer.name}/{kind}:0".encode() for kind in ("kernel", "bias")][: len(layer.weights)]
            group.attrs["weight_names"] = names
            for name, value in zip(names, layer.get_weights()):
                group.create_dataset(name.decode(), data=value)
    expected = source.get_layer("block3_conv2").get_weights()[0]

    model = unet.build_unet("vgg16", vgg_weights=str(path))
    np.testing.assert_array_equal(model.get_layer("block3_conv2").get_weights()[0], expected)
    fresh = unet.build_unet("vgg16", vgg_weights=None)
    assert not np.allclose(fresh.get_layer("block3_conv2").get_weights()[0], expected)


def test_missing_local_vgg_weights_file_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=unet.VGG16_NOTOP_FILE):
        unet.build_unet("vgg16", vgg_weights=str(tmp_path / "missing.h5"))


def test_imagenet_weights_without_network_give_a_clear_error(monkeypatch):
    def no_network(*args, **kwargs):
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    monkeypatch.setattr("keras.src.applications.vgg16.file_utils.get_file", no_network)
    with pytest.raises(FileNotFoundError, match="--vgg-weights"):
        unet.build_unet("vgg16", vgg_weights="imagenet")


@pytest.mark.parametrize("encoder", unet.ENCODERS)
def test_calling_with_a_size_not_divisible_by_16_names_the_size(encoder):
    model = unet.build_unet(encoder, vgg_weights=None)
    with pytest.raises(ValueError, match="width must be a positive multiple of 16.*got 72"):
        model.predict(np.zeros((1, 64, 72, 3), "float32"), verbose=0)


def test_a_dead_bottom_is_left_out_with_the_same_output():
    """With decoder4_conv2's ReLUs held at 0 (a bias far below its inputs), the U-Net without its
    deepest level and bottom gives the whole network's output to the bit, with fewer weights; with
    that block alive, the two differ."""
    keras.utils.set_random_seed(3)
    model = unet.build_unet("scratch")
    image = np.random.default_rng(3).normal(size=(1, 64, 80, 3)).astype("float32")
    alive = np.asarray(unet.without_dead_bottom(model)(image))
    assert np.abs(alive - np.asarray(model(image))).max() > 1e-6
    kernel, bias = model.get_layer("decoder4_conv2").get_weights()
    model.get_layer("decoder4_conv2").set_weights([kernel, np.full_like(bias, -1e6)])
    pruned = unet.without_dead_bottom(model)
    np.testing.assert_array_equal(np.asarray(pruned(image)), np.asarray(model(image)))
    assert pruned.count_params() < model.count_params() / 4
    assert not any(layer.name.startswith(("bottom", "encoder4", "decoder4")) for layer in pruned.layers)
