"""LayerNorm pixel encoder: stacked uint8 frames -> a bounded feature vector.

The reference system's CNN features grew to an L2 norm of ~7e12 because nothing bounded them.
A LayerNorm after every conv and after the FC keeps every layer's activations at unit scale
(the 512-d output has an L2 norm of ~16 at any input scale), so the heads see stable inputs.
"""

from __future__ import annotations

import torch
from torch import nn

# (out_channels, kernel, stride) of the Nature-DQN trunk used by the reference system.
CONV_LAYERS: tuple[tuple[int, int, int], ...] = ((32, 8, 4), (64, 4, 2), (64, 3, 1))


def conv_output_shapes(image_shape: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    """Shape [C, H, W] after each conv of the trunk for frames of `image_shape` = (S, H, W)."""
    _, height, width = image_shape
    shapes = []
    for channels, kernel, stride in CONV_LAYERS:
        height = (height - kernel) // stride + 1
        width = (width - kernel) // stride + 1
        if height < 1 or width < 1:
            raise ValueError(f"image_shape {tuple(image_shape)} is too small for the conv trunk (min 36x36)")
        shapes.append((channels, height, width))
    return shapes


class PixelEncoder(nn.Module):
    """uint8 frames [B, S, H, W] -> features [B, feature_dim] (ReLU of LayerNorm of the FC output).

    The forward output is the feature vector itself, so a forward hook on this module sees exactly
    what the actor or critic head reads (that is what the feature-norm monitor watches).
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int] = (4, 84, 84),
        feature_dim: int = 512,
        layer_norm: bool = True,
    ) -> None:
        super().__init__()
        if len(image_shape) != 3 or min(image_shape) < 1:
            raise ValueError(f"image_shape must be (stack, height, width), positive, got {image_shape}")
        if feature_dim < 1:
            raise ValueError(f"feature_dim must be >= 1, got {feature_dim}")
        self.image_shape = tuple(int(s) for s in image_shape)
        self.feature_dim = feature_dim
        self.layer_norm = layer_norm

        layers: list[nn.Module] = []
        in_channels = self.image_shape[0]
        shapes = conv_output_shapes(self.image_shape)
        for (channels, kernel, stride), shape in zip(CONV_LAYERS, shapes, strict=True):
            layers.append(nn.Conv2d(in_channels, channels, kernel, stride))
            layers.append(nn.LayerNorm(list(shape)) if layer_norm else nn.Identity())
            layers.append(nn.ReLU())
            in_channels = channels
        layers.append(nn.Flatten())
        flat_dim = in_channels * shape[1] * shape[2]
        layers.append(nn.Linear(flat_dim, feature_dim))
        layers.append(nn.LayerNorm(feature_dim) if layer_norm else nn.Identity())
        layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4 or tuple(image.shape[1:]) != self.image_shape:
            expected = ", ".join(map(str, self.image_shape))
            raise ValueError(f"expected image [B, {expected}], got {list(image.shape)}")
        return self.net(image.float() / 255.0)
