"""DrQ's random shift: equal to replicate padding plus a random crop, and applied to what the update encodes."""

import itertools
import warnings

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from lightning_td3.agent import TD3
from lightning_td3.agent.augment import random_shift
from lightning_td3.agent.synthetic import synthetic_batch

torch.set_num_threads(1)
warnings.filterwarnings("ignore", ".*does not have many workers.*")
SHAPE = (4, 36, 36)


def shifted_by(image: torch.Tensor, pad: int, dy: int, dx: int) -> torch.Tensor:
    """The naive reference: pad every frame with its edge pixels, crop back at (pad + dy, pad + dx)."""
    height, width = image.shape[-2:]
    padded = F.pad(image[None].float(), [pad] * 4, mode="replicate")[0]
    return padded[:, pad + dy : pad + dy + height, pad + dx : pad + dx + width].to(image.dtype)


def which_shift(original: torch.Tensor, shifted: torch.Tensor, pad: int) -> tuple[int, int] | None:
    for dy, dx in itertools.product(range(-pad, pad + 1), repeat=2):
        if torch.equal(shifted_by(original, pad, dy, dx), shifted):
            return dy, dx
    return None


@pytest.mark.parametrize("pad, shape", [(1, (3, 2, 7, 9)), (4, (6, 4, 36, 36))])
def test_each_sample_is_its_replicate_padded_crop_and_every_shift_occurs(pad, shape):
    images = torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    out = random_shift(images, pad, torch.Generator().manual_seed(1))
    assert out.shape == images.shape and out.dtype == torch.uint8
    shifts = torch.randint(-pad, pad + 1, (2, shape[0], 1), generator=torch.Generator().manual_seed(1))
    for b in range(shape[0]):  # all frames of a stack move together, by the sample's own draw
        assert torch.equal(out[b], shifted_by(images[b], pad, int(shifts[0, b]), int(shifts[1, b])))

    many = random_shift(images[:1].expand(400, *shape[1:]), pad, torch.Generator().manual_seed(2))
    seen = {which_shift(images[0], m, pad) for m in many}
    assert seen == set(itertools.product(range(-pad, pad + 1), repeat=2))  # uniform over (2 pad + 1)^2


def test_no_shift_is_the_batch_itself():
    images = torch.zeros(2, *SHAPE, dtype=torch.uint8)
    assert random_shift(images, 0) is images


@pytest.mark.parametrize("image_shift", [0, 2])
def test_the_update_encodes_shifted_observations_and_next_observations(image_shift):
    torch.manual_seed(0)
    module = TD3(image_shape=SHAPE, vector_dim=3, feature_dim=8, hidden_dim=16, encoder="shared",
                 image_shift=image_shift)  # fmt: skip
    batch = synthetic_batch(6, SHAPE, vector_dim=3, generator=torch.Generator().manual_seed(0))
    seen = {}
    module.critic_encoder.register_forward_pre_hook(lambda m, args: seen.setdefault("obs", args[0].clone()))
    module.critic_encoder_target.register_forward_pre_hook(lambda m, args: seen.setdefault("next", args[0].clone()))
    trainer = L.Trainer(max_epochs=1, logger=False, accelerator="cpu", enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(module, DataLoader([batch], batch_size=None, collate_fn=lambda b: b))
    for key, raw in (("obs", batch["obs_image"]), ("next", batch["next_obs_image"])):
        shifts = [which_shift(raw[b], seen[key][b], max(image_shift, 0)) for b in range(6)]
        assert None not in shifts  # every sample is a shifted copy of its own image
        if image_shift == 0:
            assert torch.equal(seen[key], raw)
        else:
            assert any(s != (0, 0) for s in shifts)  # 6 draws of 25 shifts: all zero has odds 25^-6
    if image_shift:  # observation and next observation are shifted independently (DrQ)
        assert [which_shift(batch["obs_image"][b], seen["obs"][b], 2) for b in range(6)] != [
            which_shift(batch["next_obs_image"][b], seen["next"][b], 2) for b in range(6)]
