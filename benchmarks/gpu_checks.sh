#!/usr/bin/env bash
# Issue 8's CUDA checks in one pass, for a GPU machine lent for minutes. In order of value: the CUDA
# tests (graph capture agrees with eager; no device sync between logging steps; the CUDA replay ring),
# the learner benchmark against SB3 at batch 256 (replay on the GPU), then batches 32 / 128, the host
# replay path (pinned copies), a short `fit` on the embedded env with cuda_graph, and torch.compile.
# Each step gets at most its own limit and never more than what is left of DEADLINE_S (default 540);
# a step that fails does not stop the next. Logs go to $OUT (default ./gpu_checks_out), one per step.
#
#     PYTHON=python3 DEADLINE_S=540 bash benchmarks/gpu_checks.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_checks_out}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
END=$(($(date +%s) + ${DEADLINE_S:-540}))
export PYTHONUNBUFFERED=1 SDL_VIDEODRIVER=offscreen PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

step() { # name, max seconds, command...
  local name=$1 max=$2 left start
  shift 2
  left=$((END - $(date +%s)))
  ((left < max)) && max=$left
  if ((max < 20)); then
    echo "== $name: skipped, deadline reached"
    return
  fi
  echo "== $name: $(date +%T), limit ${max}s: $*"
  start=$(date +%s)
  timeout "$max" "$@" >"$OUT/$name.log" 2>&1
  echo "== $name: exit $? after $(($(date +%s) - start))s"
  grep -vE "^\s*$|warn|Warning|Tip:|litlogger" "$OUT/$name.log" | tail -n 40
}
LEARNER=("$PY" benchmarks/learner.py --device cuda)

step env 30 bash -c "nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; $PY -c \
  'import torch, lightning, stable_baselines3 as s; print(torch.__version__, torch.version.cuda, lightning.__version__, s.__version__)'"
step tests 150 "$PY" -m pytest -q -p no:cacheprovider -rs tests/test_agent_cuda_graph.py tests/test_replay_buffer.py \
  tests/test_replay_files.py
step learner_256 200 "${LEARNER[@]}" --replay-device cuda --batches 256 --updates 300 --warmup 30 \
  --variants default fast graphed bf16 graphed_bf16
step learner_32_128 120 "${LEARNER[@]}" --replay-device cuda --batches 32 128 --updates 300 300 --warmup 30 \
  --variants default fast graphed
step learner_host_replay 70 "${LEARNER[@]}" --replay-device cpu --batches 256 --updates 200 --warmup 30 --encoders separate \
  --variants default graphed
step fit_cuda_graph 90 "$PY" -m lightning_td3 fit --config configs/racetrack.yaml --trainer.accelerator gpu \
  --trainer.devices 1 --model.cuda_graph true --data.replay_device cuda --data.max_env_steps 3000 \
  --data.learning_starts 1000 --eval_every_env_steps 3000 --data.eval_episodes 1 --trainer.enable_progress_bar false \
  --trainer.logger.init_args.save_dir /tmp/gpu_fit
step fit_summary 30 "$PY" -c "
import glob
from lightning_td3.analysis import load_scalars
s = load_scalars(sorted(glob.glob('/tmp/gpu_fit/racetrack/version_*'))[-1])
for key in ('progress/env_steps', 'progress/updates_per_sec', 'train/critic_loss', 'train/td_error',
            'debug/critic_cnn_feature_l2_norm', 'eval/return_mean', 'alerts/feature_norm_critical'):
    if key in s:
        steps, values = s[key][0], s[key][1]
        print(key, 'points', len(values), 'last', float(values[-1]), 'at update/step', int(steps[-1]))
"
step learner_compiled 150 "${LEARNER[@]}" --replay-device cuda --batches 256 --updates 300 --warmup 30 --repeats 2 \
  --encoders separate --variants fast compiled
echo "== done $(date +%T), $((END - $(date +%s)))s before the deadline"
