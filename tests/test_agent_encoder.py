"""PixelEncoder: shapes, LayerNorm placement, scaling of uint8 input, feature scale at init."""

import pytest
import torch
from torch import nn

from lightning_td3.agent import PixelEncoder
from lightning_td3.agent.encoder import conv_output_shapes

torch.set_num_threads(1)


def layer_norm_shapes(encoder: PixelEncoder) -> list[list[int]]:
    return [list(m.normalized_shape) for m in encoder.modules() if isinstance(m, nn.LayerNorm)]


def random_frames(batch: int, shape: tuple[int, int, int], seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, *shape), dtype=torch.uint8, generator=g)


def test_84x84_output_and_layer_norm_shapes():
    encoder = PixelEncoder((4, 84, 84), feature_dim=512)
    features = encoder(random_frames(8, (4, 84, 84)))
    assert features.shape == (8, 512) and features.dtype == torch.float32
    assert layer_norm_shapes(encoder) == [[32, 20, 20], [64, 9, 9], [64, 7, 7], [512]]


@pytest.mark.parametrize(
    "shape, expected",
    [((4, 64, 64), [[32, 15, 15], [64, 6, 6], [64, 4, 4], [512]]),
     ((3, 96, 96), [[32, 23, 23], [64, 10, 10], [64, 8, 8], [512]]),
     ((4, 36, 36), [[32, 8, 8], [64, 3, 3], [64, 1, 1], [512]])],
)  # fmt: skip
def test_other_sizes(shape, expected):
    encoder = PixelEncoder(shape)
    assert encoder(random_frames(2, shape)).shape == (2, 512)
    assert layer_norm_shapes(encoder) == expected


def test_fresh_encoder_feature_norm_in_reference_range():
    features = PixelEncoder()(random_frames(8, (4, 84, 84)))
    l2 = features.norm(dim=1).mean().item()
    assert 10 < l2 < 100, l2


def test_layer_norm_false_has_no_normalization():
    encoder = PixelEncoder((4, 84, 84), layer_norm=False)
    assert layer_norm_shapes(encoder) == []
    assert encoder(random_frames(2, (4, 84, 84))).shape == (2, 512)


def test_uint8_input_is_scaled_to_unit_range_inside():
    encoder = PixelEncoder((4, 36, 36), feature_dim=16)
    frames = random_frames(3, (4, 36, 36))
    expected = encoder.net(frames.float() / 255.0)
    torch.testing.assert_close(encoder(frames), expected)


def test_forward_hook_sees_the_feature_vector():
    encoder = PixelEncoder((4, 36, 36), feature_dim=32)
    seen = []
    encoder.register_forward_hook(lambda module, inputs, output: seen.append(output))
    out = encoder(random_frames(2, (4, 36, 36)))
    assert len(seen) == 1 and seen[0] is out and out.shape == (2, 32)


def test_bad_shapes_raise_one_line_value_errors():
    with pytest.raises(ValueError, match="too small"):
        PixelEncoder((4, 32, 32))
    with pytest.raises(ValueError, match="too small"):
        conv_output_shapes((4, 84, 20))
    with pytest.raises(ValueError, match=r"expected image \[B, 4, 36, 36\], got \[2, 4, 40, 40\]"):
        PixelEncoder((4, 36, 36))(random_frames(2, (4, 40, 40)))
    with pytest.raises(ValueError, match="feature_dim"):
        PixelEncoder(feature_dim=0)


def test_layer_norm_fc_normalizes_the_features_only():
    """DrQ-v2's placement: no LayerNorm between the convs, one on the FC output (still bounded)."""
    encoder = PixelEncoder((4, 84, 84), feature_dim=50, layer_norm="fc")
    assert layer_norm_shapes(encoder) == [[50]]
    assert PixelEncoder((4, 84, 84), layer_norm=True).layer_norm == "all"
    assert PixelEncoder((4, 84, 84), layer_norm=False).layer_norm == "none"
    torch.manual_seed(0)
    images = torch.randint(0, 256, (8, 4, 84, 84), dtype=torch.uint8)
    with torch.no_grad():
        for layer in encoder.net:  # blow up the conv weights: the LayerNorm'd output must not follow
            if isinstance(layer, torch.nn.Conv2d):
                layer.weight.mul_(100.0)
        features = encoder(images)
    # ReLU of a standardized 50-d vector: L2 norm below sqrt(50) ~ 7.07 whatever the conv scale
    assert features.shape == (8, 50) and float(features.norm(dim=1).max()) <= 50**0.5 + 1e-4


def test_layer_norm_placement_is_validated():
    with pytest.raises(ValueError, match="layer_norm must be true, false or one of"):
        PixelEncoder((4, 84, 84), layer_norm="conv")


@pytest.mark.parametrize("placement", ["all", "fc"])
def test_layer_norm_gain_scales_the_fresh_features_exactly(placement):
    images = random_frames(6, (4, 84, 84))
    features = {}
    for gain in (1.0, 0.1):
        torch.manual_seed(0)  # the same weights; only the feature LayerNorm's initial gain differs
        encoder = PixelEncoder((4, 84, 84), feature_dim=50, layer_norm=placement, layer_norm_gain=gain)
        with torch.no_grad():
            features[gain] = encoder(images)
    # ReLU(0.1 * z + 0) = 0.1 * ReLU(z): the LayerNorm's bias starts at zero
    torch.testing.assert_close(features[0.1], 0.1 * features[1.0])
    assert 0.3 < float(features[0.1].norm(dim=1).mean()) < 0.7  # L2 ~ 0.1 * 0.7 * sqrt(50)


def test_layer_norm_gain_is_validated():
    with pytest.raises(ValueError, match="layer_norm_gain must be > 0, got 0.0"):
        PixelEncoder((4, 84, 84), layer_norm_gain=0.0)
    with pytest.raises(ValueError, match="needs a feature LayerNorm; layer_norm is none"):
        PixelEncoder((4, 84, 84), layer_norm=False, layer_norm_gain=0.1)
