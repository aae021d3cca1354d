#!/usr/bin/env bash
# Reproduces docs/RESULTS.md: every training run of its tables, the baselines, a 10-episode evaluation of
# every final checkpoint, and the report's tables and plots.
# Each 40k run is ~25-35 min of one CPU core; JOBS runs go in parallel (default 2): about 6-7 hours in all.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
LOGS=lightning_logs
OUT=docs/results
mkdir -p "$LOGS" "$OUT"

fit() {  # name, extra args
  local name=$1; shift
  OMP_NUM_THREADS=1 lightning-td3 fit --config configs/racetrack.yaml "$@" --trainer.enable_progress_bar false \
    --trainer.logger.init_args.name "$name" >> "$LOGS/$name.log" 2>&1
}
OLD="--model.critic_mlp_lr 3e-4 --model.actor_mlp_lr 3e-4"  # the heads' rate before session 3 (lr3e-4_* runs)
runs=(
  # configs/racetrack.yaml as it is (heads at 1e-3), and its ablations measured at that rate
  "main_seed0 --seed_everything 0"
  "main_seed1 --seed_everything 1"
  "main_seed2 --seed_everything 2"
  "ablation_no_layernorm_seed0 --config configs/ablations/no_layernorm.yaml --seed_everything 0"
  "ablation_no_layernorm_seed1 --config configs/ablations/no_layernorm.yaml --seed_everything 1"
  "ablation_no_layernorm_seed2 --config configs/ablations/no_layernorm.yaml --seed_everything 2"
  "ablation_single_critic_seed0 --config configs/ablations/single_critic.yaml --seed_everything 0"
  "ablation_ddpg_seed0 --config configs/ablations/ddpg.yaml --seed_everything 0"
  "ablation_no_delay_seed0 --config configs/ablations/no_delay.yaml --seed_everything 0"
  "classical_warmup_seed0 --data.warmup.kind classical --seed_everything 0"
  # the same with the heads at 3e-4: the previous main config, its four ablations, LayerNorm after the FC
  # only (DrQ-v2's placement) and the classical warm-up
  "lr3e-4_main_seed0 $OLD --seed_everything 0"
  "lr3e-4_main_seed1 $OLD --seed_everything 1"
  "lr3e-4_main_seed2 $OLD --seed_everything 2"
  "lr3e-4_ablation_no_layernorm_seed0 --config configs/ablations/no_layernorm.yaml $OLD --seed_everything 0"
  "lr3e-4_ablation_no_layernorm_seed1 --config configs/ablations/no_layernorm.yaml $OLD --seed_everything 1"
  "lr3e-4_ablation_no_layernorm_seed2 --config configs/ablations/no_layernorm.yaml $OLD --seed_everything 2"
  "lr3e-4_ablation_single_critic_seed0 --config configs/ablations/single_critic.yaml $OLD --seed_everything 0"
  "lr3e-4_ablation_ddpg_seed0 --config configs/ablations/ddpg.yaml $OLD --seed_everything 0"
  "lr3e-4_ablation_no_delay_seed0 --config configs/ablations/no_delay.yaml $OLD --seed_everything 0"
  "lr3e-4_ln_fc_seed0 --model.layer_norm fc $OLD --seed_everything 0"
  "lr3e-4_ln_fc_seed1 --model.layer_norm fc $OLD --seed_everything 1"
  "lr3e-4_classical_warmup_seed0 --data.warmup.kind classical $OLD --seed_everything 0 --data.max_env_steps 30000"
)
for run in "${runs[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  # shellcheck disable=SC2086
  fit $run &
done
wait

# baselines and every final checkpoint on the same 10 evaluation episodes (seeds 10000-10009)
for policy in classical random; do
  python -m lightning_td3.baselines --config configs/racetrack.yaml --episodes 10 --policy "$policy" \
    > "$OUT/eval_$policy.json"
done
for run in "${runs[@]}"; do
  name=${run%% *}
  OMP_NUM_THREADS=1 python -m lightning_td3.baselines --config configs/racetrack.yaml --episodes 10 \
    --policy checkpoint --ckpt "$LOGS/$name/version_0/checkpoints/last.ckpt" > "$OUT/eval_$name.json"
done

# the longer horizon: main and no-LayerNorm resumed from their 40k checkpoints to 80k env steps
# (after the 40k evaluations above: resuming moves last.ckpt on)
long=()
for s in 0 1 2; do
  long+=("main_seed$s --seed_everything $s")
  long+=("ablation_no_layernorm_seed$s --config configs/ablations/no_layernorm.yaml --seed_everything $s")
done
for run in "${long[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  # shellcheck disable=SC2086
  fit $run --ckpt_path last --data.max_env_steps 80000 &
done
wait
for run in "${long[@]}"; do
  name=${run%% *}
  OMP_NUM_THREADS=1 python -m lightning_td3.baselines --config configs/racetrack.yaml --episodes 10 \
    --policy checkpoint --ckpt "$LOGS/$name/version_0/checkpoints/last.ckpt" > "$OUT/eval_80k_$name.json"
done

python scripts/eval_table.py "$OUT" > "$OUT/eval_table.md"
python scripts/eval_table.py "$OUT" --against main > "$OUT/eval_vs_main.md"
python scripts/eval_table.py "$OUT" --against 80k_main > "$OUT/eval_vs_main_80k.md"

# plots (PNG) and tables (markdown) of the report notebook
TRAINING_REPORT_LOGS=$PWD/$LOGS TRAINING_REPORT_OUT=$PWD/$OUT TRAINING_REPORT_BUDGET=40000 \
  jupyter nbconvert --to notebook --execute --output /tmp/training_report.ipynb notebooks/training_report.ipynb
TRAINING_REPORT_LOGS=$PWD/$LOGS TRAINING_REPORT_OUT=/tmp/report20k TRAINING_REPORT_BUDGET=20000 \
  jupyter nbconvert --to notebook --execute --output /tmp/training_report_20k.ipynb notebooks/training_report.ipynb
cp /tmp/report20k/budget_metrics.md "$OUT/budget_metrics_20k.md"
TRAINING_REPORT_LOGS=$PWD/$LOGS TRAINING_REPORT_OUT=/tmp/report80k TRAINING_REPORT_BUDGET=80000 \
  jupyter nbconvert --to notebook --execute --output /tmp/training_report_80k.ipynb notebooks/training_report.ipynb
cp /tmp/report80k/budget_metrics.md "$OUT/budget_metrics_80k.md"
