"""LayerNorm pixel encoder: stacked uint8 frames -> a bounded feature vector.

The reference system's CNN features grew to an L2 norm of ~7e12 because nothing bounded them.
A LayerNorm after the FC bounds what the heads read (the 512-d output has an L2 norm of ~16 at any
input scale). Where the LayerNorms sit is `layer_norm`: "all" (after every conv and after the FC, the
reference's fix), "fc" (after the FC only, DrQ-v2's placement) or "none" (the ablation).

`layer_norm_gain` is the initial value of the feature LayerNorm's learnable gain. At 1 the fresh
features (L2 ~ 0.7 sqrt(d)) are louder than the kinematic vector the heads also read, and they are
noise until the CNN has learned; a small gain lets the heads start from the vector and bring the
pixels in as the gain grows, as an unnormalised encoder (fresh features of L2 ~ 0.1) does by itself.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from lightning_td3.agent.compiling import CompilableModule

LayerNormPlacement = Literal["all", "fc", "none"]
LAYER_NORM_PLACEMENTS: tuple[str, ...] = get_args(LayerNormPlacement)

# (out_channels, kernel, stride) of the Nature-DQN trunk used by the reference system.
CONV_LAYERS: tuple[tuple[int, int, int], ...] = ((32, 8, 4), (64, 4, 2), (64, 3, 1))


def layer_norm_placement(layer_norm: bool | str) -> str:
    """"all" / "fc" / "none"; true and false (older configs and checkpoints) mean "all" and "none"."""
    if isinstance(layer_norm, bool):
        return "all" if layer_norm else "none"
    if layer_norm not in LAYER_NORM_PLACEMENTS:
        raise ValueError(f"layer_norm must be true, false or one of {LAYER_NORM_PLACEMENTS}, got {layer_norm!r}")
    return layer_norm


def validate_layer_norm(layer_norm: bool | str, layer_norm_gain: float = 1.0) -> str:
    """The placement ("all" / "fc" / "none"), after checking that the gain fits it."""
    placement = layer_norm_placement(layer_norm)
    if not layer_norm_gain > 0:
        raise ValueError(f"layer_norm_gain must be > 0, got {layer_norm_gain}")
    if placement == "none" and layer_norm_gain != 1.0:
        raise ValueError(f"layer_norm_gain {layer_norm_gain} needs a feature LayerNorm; layer_norm is none (set 1.0)")
    return placement


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


class PixelEncoder(CompilableModule):
    """uint8 frames [B, S, H, W] -> features [B, feature_dim] (ReLU of LayerNorm of the FC output).

    The forward output is the feature vector itself, so a forward hook on this module sees exactly
    what the actor or critic head reads (that is what the feature-norm monitor watches).

    channels_last: run the convs on NHWC activations (same parameters, same state_dict). On CPU
    (oneDNN) the conv weight gradients are several times faster that way, above all the first
    conv's; the conv LayerNorms then normalize the NHWC view, so no layout copy is made between
    layers. Results equal the NCHW path up to float rounding.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int] = (4, 84, 84),
        feature_dim: int = 512,
        layer_norm: bool | LayerNormPlacement = True,
        channels_last: bool = False,
        layer_norm_gain: float = 1.0,
    ) -> None:
        super().__init__()
        if len(image_shape) != 3 or min(image_shape) < 1:
            raise ValueError(f"image_shape must be (stack, height, width), positive, got {image_shape}")
        if feature_dim < 1:
            raise ValueError(f"feature_dim must be >= 1, got {feature_dim}")
        self.image_shape = tuple(int(s) for s in image_shape)
        self.feature_dim = feature_dim
        self.layer_norm = validate_layer_norm(layer_norm, layer_norm_gain)
        self.channels_last = bool(channels_last)

        layers: list[nn.Module] = []
        in_channels = self.image_shape[0]
        shapes = conv_output_shapes(self.image_shape)
        for (channels, kernel, stride), shape in zip(CONV_LAYERS, shapes, strict=True):
            layers.append(nn.Conv2d(in_channels, channels, kernel, stride))
            layers.append(nn.LayerNorm(list(shape)) if self.layer_norm == "all" else nn.Identity())
            layers.append(nn.ReLU())
            in_channels = channels
        layers.append(nn.Flatten())
        flat_dim = in_channels * shape[1] * shape[2]
        layers.append(nn.Linear(flat_dim, feature_dim))
        if self.layer_norm != "none":
            feature_norm = nn.LayerNorm(feature_dim)
            nn.init.constant_(feature_norm.weight, layer_norm_gain)
            layers.append(feature_norm)
        else:
            layers.append(nn.Identity())
        layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4 or tuple(image.shape[1:]) != self.image_shape:
            expected = ", ".join(map(str, self.image_shape))
            raise ValueError(f"expected image [B, {expected}], got {list(image.shape)}")
        return self.run("features", image)

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """The encoder's tensor math (no checks): what `compile` compiles."""
        # one float copy, scaled in place (a float input is copied too, never changed)
        if not self.channels_last:
            return self.net(image.to(torch.float32, copy=True).div_(255.0))
        x = image.to(torch.float32, memory_format=torch.channels_last, copy=True).div_(255.0)
        for layer in self.net:
            x = _nhwc_layer_norm(layer, x) if isinstance(layer, nn.LayerNorm) and x.dim() == 4 else layer(x)
        return x


def _nhwc_layer_norm(layer: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    """LayerNorm over (C, H, W) of a channels-last x, computed on its contiguous (N, H, W, C) view."""
    weight = layer.weight.permute(1, 2, 0) if layer.weight is not None else None
    bias = layer.bias.permute(1, 2, 0) if layer.bias is not None else None
    nhwc = x.permute(0, 2, 3, 1)
    return F.layer_norm(nhwc, nhwc.shape[1:], weight, bias, layer.eps).permute(0, 3, 1, 2)
