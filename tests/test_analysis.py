import numpy as np
import pytest
from torch.utils.tensorboard import SummaryWriter

from lightning_td3.analysis import final_value, load_scalars, mean_std, reward_term_shares, run_dirs


def test_scalars_merge_event_files_of_a_resumed_run(tmp_path):
    run = tmp_path / "exp" / "version_0"
    for start in (0, 3):  # two processes writing into the same run folder
        w = SummaryWriter(run)
        for step in range(start, start + 3):
            w.add_scalar("eval/return_mean", step * 10.0, step)
            w.add_scalar("rewards/progress", 3.0, step)
            w.add_scalar("rewards/safety", -1.0, step)
        w.close()
    assert run_dirs(tmp_path) == [run]
    scalars = load_scalars(run)
    steps, values = scalars["eval/return_mean"]
    assert steps.tolist() == [0, 1, 2, 3, 4, 5] and values.tolist() == [0, 10, 20, 30, 40, 50]
    assert final_value(scalars, "eval/return_mean", last=2) == 45.0
    assert np.isnan(final_value(scalars, "missing"))
    assert reward_term_shares(scalars) == pytest.approx({"progress": 0.75, "safety": 0.25})


def test_mean_std_ignores_missing_values():
    assert mean_std([1.0, 3.0, float("nan")]) == (2.0, 1.0)
