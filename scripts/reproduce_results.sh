#!/usr/bin/env bash
# Reproduces docs/RESULTS.md: every training run of its tables, the baselines, a 10-episode evaluation of
# every final checkpoint, and the report's tables and plots.
# Each 40k run is ~25-35 min of one CPU core; JOBS runs go in parallel (default 2): about 8 hours in all.
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
train_all() {  # extra fit args for every run ("" for none), then the runs; JOBS at a time
  local extra=$1; shift
  for run in "$@"; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    # shellcheck disable=SC2086
    fit $run $extra &
  done
  wait
}
evaluate_all() {  # JSON name prefix, then the runs: each final checkpoint on the 10 evaluation laps
  local prefix=$1; shift
  for run in "$@"; do
    local name=${run%% *}
    OMP_NUM_THREADS=1 python -m lightning_td3.baselines --config configs/racetrack.yaml --episodes 10 \
      --policy checkpoint --ckpt "$LOGS/$name/version_0/checkpoints/last.ckpt" > "$OUT/eval_$prefix$name.json"
  done
}
GAIN1="--model.layer_norm_gain 1.0"  # the feature LayerNorm's gain before session 4 (gain1_* and lr3e-4_* runs)
OLD="$GAIN1 --model.critic_mlp_lr 3e-4 --model.actor_mlp_lr 3e-4"  # the heads' rate before session 3 (lr3e-4_*)
runs=(
  # configs/racetrack.yaml as it is (gain 0.1, heads at 1e-3), and its ablations
  "main_seed0 --seed_everything 0"
  "main_seed1 --seed_everything 1"
  "main_seed2 --seed_everything 2"
  "ablation_no_layernorm_seed0 --config configs/ablations/no_layernorm.yaml --seed_everything 0"
  "ablation_no_layernorm_seed1 --config configs/ablations/no_layernorm.yaml --seed_everything 1"
  "ablation_no_layernorm_seed2 --config configs/ablations/no_layernorm.yaml --seed_everything 2"
  "ablation_single_critic_seed0 --config configs/ablations/single_critic.yaml --seed_everything 0"
  "ablation_no_delay_seed0 --config configs/ablations/no_delay.yaml --seed_everything 0"
  "ablation_ddpg_seed0 --config configs/ablations/ddpg.yaml --seed_everything 0"
  # session 3's main config (gain 1) and its ablations
  "gain1_main_seed0 $GAIN1 --seed_everything 0"
  "gain1_main_seed1 $GAIN1 --seed_everything 1"
  "gain1_main_seed2 $GAIN1 --seed_everything 2"
  "gain1_ablation_single_critic_seed0 --config configs/ablations/single_critic.yaml $GAIN1 --seed_everything 0"
  "gain1_ablation_no_delay_seed0 --config configs/ablations/no_delay.yaml $GAIN1 --seed_everything 0"
  "gain1_ablation_ddpg_seed0 --config configs/ablations/ddpg.yaml $GAIN1 --seed_everything 0"
  # the same with the heads at 3e-4: the main config until session 3, its four ablations, LayerNorm after
  # the FC only (DrQ-v2's placement) and the classical warm-up
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
train_all "" "${runs[@]}"

# baselines and every final checkpoint on the same 10 evaluation episodes (seeds 10000-10009)
for policy in classical random; do
  python -m lightning_td3.baselines --config configs/racetrack.yaml --episodes 10 --policy "$policy" \
    > "$OUT/eval_$policy.json"
done
evaluate_all "" "${runs[@]}"

# the longer horizon: gain1_main and no-LayerNorm (seed 0 of each) resumed from their 40k checkpoints to
# 80k env steps (after the 40k evaluations above: resuming moves last.ckpt on)
long=(
  "gain1_main_seed0 $GAIN1 --seed_everything 0"
  "ablation_no_layernorm_seed0 --config configs/ablations/no_layernorm.yaml --seed_everything 0"
)
train_all "--ckpt_path last --data.max_env_steps 80000" "${long[@]}"
evaluate_all 80k_ "${long[@]}"

python scripts/eval_table.py "$OUT" > "$OUT/eval_table.md"
python scripts/eval_table.py "$OUT" --against main > "$OUT/eval_vs_main.md"
python scripts/curve_table.py "$LOGS" --runs 'main_seed*' 'ablation_*' 'gain1_*' 'lr3e-4_main*' \
  'lr3e-4_ablation_no_layernorm*' > "$OUT/curves_40k.md"
python scripts/curve_table.py "$LOGS" --budget 20000 --runs 'main_seed*' 'ablation_no_layernorm*' 'gain1_main*' \
  'ablation_single_critic*' > "$OUT/curves_20k.md"
# how much the agents read pixels vs the vector: untrained (gain 1, 0.3, 0.1, no LayerNorm) and trained
C="$LOGS/main_seed1/version_0/checkpoints/last.ckpt"
for set in "layer_norm_gain=1.0" "layer_norm_gain=0.3" "layer_norm_gain=0.1" "layer_norm=false layer_norm_gain=1.0"; do
  # shellcheck disable=SC2086
  python scripts/input_reliance.py --config configs/racetrack.yaml --episodes 2 --ckpt "$C" --fresh 3 --set $set
done > "$OUT/input_reliance_init.md"

# plots (PNG) and tables (markdown) of the report notebook
export TRAINING_REPORT_RUNS="main_seed* ablation_* gain1_*"
TRAINING_REPORT_LOGS=$PWD/$LOGS TRAINING_REPORT_OUT=$PWD/$OUT TRAINING_REPORT_BUDGET=40000 \
  jupyter nbconvert --to notebook --execute --output /tmp/training_report.ipynb notebooks/training_report.ipynb
TRAINING_REPORT_LOGS=$PWD/$LOGS TRAINING_REPORT_OUT=/tmp/report20k TRAINING_REPORT_BUDGET=20000 \
  jupyter nbconvert --to notebook --execute --output /tmp/training_report_20k.ipynb notebooks/training_report.ipynb
cp /tmp/report20k/budget_metrics.md "$OUT/budget_metrics_20k.md"

