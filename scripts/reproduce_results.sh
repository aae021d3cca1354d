#!/usr/bin/env bash
# Reproduces docs/RESULTS.md: every training run of its tables, the baselines, a 10-episode evaluation of
# every final checkpoint, and the report's tables and plots.
# Each 40k leg is ~25-35 min of one CPU core; JOBS runs go in parallel (default 2): about 16 hours in all.
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
train_all() {  # fit args for every run, then the runs ("name args..."; a run's own args win); JOBS at a time
  local extra=$1 run; shift
  for run in "$@"; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    # shellcheck disable=SC2086
    fit ${run%% *} $extra ${run#* } &
  done
  wait
}
evaluate_all() {  # JSON name prefix, then the runs: each final checkpoint (or $CKPT) on the 10 evaluation laps
  # of configs/racetrack.yaml (with $OVERLAY layered on it), written to $EVAL_OUT (default $OUT)
  local prefix=$1 ckpt=${CKPT:-last.ckpt} out=${EVAL_OUT:-$OUT} run name; shift
  for run in "$@"; do
    name=${run%% *}
    OMP_NUM_THREADS=1 python -m lightning_td3.baselines --config configs/racetrack.yaml ${OVERLAY:+--config "$OVERLAY"} \
      --episodes 10 --policy checkpoint --ckpt "$LOGS/$name/version_0/checkpoints/$ckpt" > "$out/eval_$prefix$name.json"
  done
}
evaluate_last_two() {  # budget in k, then the runs: evaluate_all on their checkpoints at k-2 and k (as k-2k_, k_)
  local k=$1 step; shift
  for step in $((k - 2)) "$k"; do CKPT=env_steps=${step}000.ckpt evaluate_all "${step}k_" "$@"; done
}
report() {  # run-folder globs (one word), logs folder, output folder[, budget (default 80000)]: the report notebook
  # executed headless, its tables and plots written to the output folder, the executed notebook beside them
  mkdir -p "$3"
  TRAINING_REPORT_RUNS=$1 TRAINING_REPORT_LOGS=$2 TRAINING_REPORT_OUT=$3 TRAINING_REPORT_BUDGET=${4:-80000} \
    jupyter nbconvert --to notebook --execute --output "$3/report.ipynb" notebooks/training_report.ipynb
}
TAU01="--model.tau 0.01"  # the target networks' rate until session 7: every run below up to the tau array
GAIN1="--model.layer_norm_gain 1.0"  # the feature LayerNorm's gain before session 4 (gain1_* and lr3e-4_* runs)
OLD="$GAIN1 --model.critic_mlp_lr 3e-4 --model.actor_mlp_lr 3e-4"  # the heads' rate before session 3 (lr3e-4_*)
runs=(
  # configs/racetrack.yaml at tau 0.01 (gain 0.1, heads at 1e-3), and its ablations
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
  # the classical warm-up at the current config (session 5)
  "classical_warmup_seed0 --data.warmup.kind classical --seed_everything 0 --data.max_env_steps 20000"
)
# every run first to 40k env steps (configs/racetrack.yaml runs 80k: the long runs below resume to it)
train_all "$TAU01 --data.max_env_steps 40000" "${runs[@]}"

# baselines and every final checkpoint on the same 10 evaluation episodes (seeds 10000-10009)
for policy in classical random; do
  python -m lightning_td3.baselines --config configs/racetrack.yaml --episodes 10 --policy "$policy" \
    > "$OUT/eval_$policy.json"
done
evaluate_all "" "${runs[@]}"

# the issue's one-hour budget: every gain-0.1 run, and gain1_main seed 0, resumed from its 40k checkpoint to
# 80k env steps (after the 40k evaluations above: resuming moves last.ckpt on)
long=(
  "${runs[@]:0:9}"
  "gain1_main_seed0 $GAIN1 --seed_everything 0"
)
mkdir -p "$LOGS/keep"
for run in "${long[@]}"; do  # the 40k checkpoints, for input_reliance below
  name=${run%% *}
  cp "$LOGS/$name/version_0/checkpoints/env_steps=40000.ckpt" "$LOGS/keep/${name}_40k_final.ckpt"
done
train_all "$TAU01 --ckpt_path last --data.max_env_steps 80000" "${long[@]}"
evaluate_all 80k_ "${long[@]}"
# more seeds of single critic and no delay (session 6): one 80k run each, configs/racetrack.yaml's length
# (ablation_no_delay_seed2 ran in session 7: session 6's run was lost with its machine at 38k)
more=(
  "ablation_single_critic_seed1 --config configs/ablations/single_critic.yaml --seed_everything 1"
  "ablation_single_critic_seed2 --config configs/ablations/single_critic.yaml --seed_everything 2"
  "ablation_no_delay_seed1 --config configs/ablations/no_delay.yaml --seed_everything 1"
  "ablation_no_delay_seed2 --config configs/ablations/no_delay.yaml --seed_everything 2"
)
train_all "$TAU01" "${more[@]}"
evaluate_all 80k_ "${more[@]}"
# session 7: how fast the target networks move. main at tau 0.02 (its targets per env step as fast as no delay's
# at 0.01), no delay at tau 0.005 (as slow as main's) and at 0.02
tau=(
  "tau02_main_seed0 --model.tau 0.02 --seed_everything 0"
  "tau02_main_seed1 --model.tau 0.02 --seed_everything 1"
  "tau02_main_seed2 --model.tau 0.02 --seed_everything 2"
  "tau005_ablation_no_delay_seed0 --config configs/ablations/no_delay.yaml --model.tau 0.005 --seed_everything 0"
  "tau02_ablation_no_delay_seed0 --config configs/ablations/no_delay.yaml --model.tau 0.02 --seed_everything 0"
  # session 8: tau 0.02 became configs/racetrack.yaml's default; its ablations at it
  "tau02_ablation_no_delay_seed1 --config configs/ablations/no_delay.yaml --model.tau 0.02 --seed_everything 1"
  "tau02_ablation_no_delay_seed2 --config configs/ablations/no_delay.yaml --model.tau 0.02 --seed_everything 2"
  "tau02_ablation_no_layernorm_seed0 --config configs/ablations/no_layernorm.yaml --model.tau 0.02 --seed_everything 0"
  "tau02_ablation_single_critic_seed0 --config configs/ablations/single_critic.yaml --model.tau 0.02 --seed_everything 0"
  "tau02_ablation_ddpg_seed0 --config configs/ablations/ddpg.yaml --model.tau 0.02 --seed_everything 0"
  # session 9: more seeds of the ablations at tau 0.02
  "tau02_ablation_no_layernorm_seed1 --config configs/ablations/no_layernorm.yaml --model.tau 0.02 --seed_everything 1"
  "tau02_ablation_no_layernorm_seed2 --config configs/ablations/no_layernorm.yaml --model.tau 0.02 --seed_everything 2"
  "tau02_ablation_single_critic_seed1 --config configs/ablations/single_critic.yaml --model.tau 0.02 --seed_everything 1"
  "tau02_ablation_single_critic_seed2 --config configs/ablations/single_critic.yaml --model.tau 0.02 --seed_everything 2"
  # session 10: DDPG seeds 1-2
  "tau02_ablation_ddpg_seed1 --config configs/ablations/ddpg.yaml --model.tau 0.02 --seed_everything 1"
  "tau02_ablation_ddpg_seed2 --config configs/ablations/ddpg.yaml --model.tau 0.02 --seed_everything 2"
  # session 10: the classical warm-up at this config
  "tau02_classical_warmup_seed0 --data.warmup.kind classical --model.tau 0.02 --seed_everything 0"
  "tau02_classical_warmup_seed1 --data.warmup.kind classical --model.tau 0.02 --seed_everything 1"
  "tau02_classical_warmup_seed2 --data.warmup.kind classical --model.tau 0.02 --seed_everything 2"
)
train_all "" "${tau[@]}"
evaluate_all 80k_ "${tau[@]}"
# the checkpoint before the last, a second snapshot of each final policy (session 8)
CKPT=env_steps=78000.ckpt evaluate_all 78k_ "${tau[@]}"
# the learning curves, kept in the repository (lightning_logs/ does not outlive its machine)
python scripts/export_curves.py "$LOGS" "$OUT/curves" --runs 'main_seed*' 'ablation_*' 'gain1_*' 'lr3e-4_*' \
  'classical_warmup*' 'tau*'
report "tau02_main_seed* ablation_no_delay_seed2 tau005_* tau02_ablation_no_delay_seed0" "$PWD/$LOGS" \
  "$PWD/$LOGS/tau_report"
cp "$LOGS/tau_report/validation.md" "$OUT/validation_tau.md"
cp "$LOGS/tau_report/eval.png" "$OUT/eval_tau.png"
# session 8: configs/racetrack.yaml (tau 0.02) and its ablations at tau 0.02
report "tau02_main_seed* tau02_ablation*" "$PWD/$LOGS" "$PWD/$LOGS/tau02_report"
cp "$LOGS/tau02_report/eval.png" "$OUT/eval_tau02.png"
cp "$LOGS/tau02_report/validation.md" "$OUT/validation_tau02.md"
# tables of sessions 2-6's runs, made from their logs (their curves were not kept)
python scripts/curve_table.py "$LOGS" --budget 80000 --runs 'main_seed*' 'ablation_*' 'gain1_main*' > "$OUT/curves_80k.md"
python scripts/curve_table.py "$LOGS" --budget 80000 --runs 'main_seed*' 'ablation_*' 'gain1_main*' --against main \
  > "$OUT/curves_80k_vs_main.md"
python scripts/curve_table.py "$LOGS" --runs 'main_seed*' 'ablation_*' 'gain1_*' 'lr3e-4_main*' \
  'lr3e-4_ablation_no_layernorm*' > "$OUT/curves_40k.md"
python scripts/curve_table.py "$LOGS" --budget 20000 --runs 'main_seed*' 'ablation_no_layernorm*' 'gain1_main*' \
  'ablation_single_critic*' 'classical_warmup*' > "$OUT/curves_20k.md"
# how much the agents read pixels vs the vector: untrained (gain 1, 0.3, 0.1, no LayerNorm) and trained
C="$LOGS/main_seed1/version_0/checkpoints/last.ckpt"
for set in "layer_norm_gain=1.0" "layer_norm_gain=0.3" "layer_norm_gain=0.1" "layer_norm=false layer_norm_gain=1.0"; do
  # shellcheck disable=SC2086
  python scripts/input_reliance.py --config configs/racetrack.yaml --episodes 2 --ckpt "$C" --fresh 3 --set $set
done > "$OUT/input_reliance_init.md"
# ... and trained: the 40k checkpoints, and the 80k ones of the resumed runs
forty=() eighty=()
for run in "${runs[@]:0:12}" "${runs[@]:15:6}"; do
  name=${run%% *}
  if [ -f "$LOGS/keep/${name}_40k_final.ckpt" ]; then
    forty+=("$LOGS/keep/${name}_40k_final.ckpt") eighty+=("$LOGS/$name/version_0/checkpoints/last.ckpt")
  else forty+=("$LOGS/$name/version_0/checkpoints/last.ckpt"); fi
done
python scripts/input_reliance.py --config configs/racetrack.yaml --episodes 2 --ckpt "${forty[@]}" \
  > "$OUT/input_reliance_40k.md"
python scripts/input_reliance.py --config configs/racetrack.yaml --episodes 2 --ckpt "${eighty[@]}" \
  > "$OUT/input_reliance_80k.md"
# does each critic overestimate its own policy? the 80k runs, at 40k and at 80k
final=()
for run in "${long[@]}" "${more[@]}"; do final+=("$LOGS/${run%% *}/version_0/checkpoints/last.ckpt"); done
python scripts/value_bias.py --config configs/racetrack.yaml --episodes 10 --ckpt "${forty[@]:0:10}" \
  > "$OUT/value_bias_40k.md"
python scripts/value_bias.py --config configs/racetrack.yaml --episodes 10 --ckpt "${final[@]}" \
  > "$OUT/value_bias_80k.md"
tau_final=()
for run in "${tau[@]}"; do tau_final+=("$LOGS/${run%% *}/version_0/checkpoints/last.ckpt"); done
python scripts/value_bias.py --config configs/racetrack.yaml --episodes 10 --ckpt "${tau_final[@]}" \
  > "$OUT/value_bias_80k_tau.md"

# plots (PNG) and tables (markdown) of the report notebook, at the 80k budget, and its same-budget table at
# 40k and 20k
main_report="main_seed* ablation_* gain1_*"
report "$main_report" "$PWD/$LOGS" "$PWD/$LOGS/main_report"
cp "$LOGS/main_report/"*.{png,md} "$OUT/"
for budget in 40000 20000; do
  report "$main_report" "$PWD/$LOGS" "/tmp/report$budget" "$budget"
  cp /tmp/report$budget/budget_metrics.md "$OUT/budget_metrics_$((budget / 1000))k.md"
done

# sessions 11-14: twice the budget. configs/racetrack.yaml seeds 0-2, DDPG seeds 0-2, single critic seeds 1-2,
# no LayerNorm seed 1 and no delay seed 0, resumed from their 80k checkpoints to 160k env steps (after every 80k
# evaluation above: resuming moves last.ckpt on and prunes the old checkpoints), then their last two checkpoints
# on the ten evaluation laps and their critics' bias.
# The main runs, DDPG seed 0 and no delay seed 0 went 0->160k instead (main seed 1 in two legs, DDPG and no delay
# seed 0 in four); resuming is the same run (the resume test compares parameters bit for bit, and all five runs'
# curves up to 80k equal the 80k runs' kept in docs/results/curves)
twice=(
  "tau02_main_seed0 --seed_everything 0"
  "tau02_main_seed1 --seed_everything 1"
  "tau02_main_seed2 --seed_everything 2"
  "tau02_ablation_ddpg_seed0 --config configs/ablations/ddpg.yaml --seed_everything 0"
  "tau02_ablation_ddpg_seed1 --config configs/ablations/ddpg.yaml --seed_everything 1"
  "tau02_ablation_ddpg_seed2 --config configs/ablations/ddpg.yaml --seed_everything 2"
  "tau02_ablation_single_critic_seed1 --config configs/ablations/single_critic.yaml --seed_everything 1"
  "tau02_ablation_single_critic_seed2 --config configs/ablations/single_critic.yaml --seed_everything 2"
  "tau02_ablation_no_layernorm_seed1 --config configs/ablations/no_layernorm.yaml --seed_everything 1"
  "tau02_ablation_no_delay_seed0 --config configs/ablations/no_delay.yaml --seed_everything 0"
)
train_all "--model.tau 0.02 --ckpt_path last --data.max_env_steps 160000" "${twice[@]}"
evaluate_all 160k_ "${twice[@]}"
CKPT=env_steps=158000.ckpt evaluate_all 158k_ "${twice[@]}"
twice_final=()
for run in "${twice[@]}"; do twice_final+=("$LOGS/${run%% *}/version_0/checkpoints/env_steps=160000.ckpt"); done
python scripts/value_bias.py --config configs/racetrack.yaml --episodes 10 --ckpt "${twice_final[@]}" \
  > "$OUT/value_bias_160k.md"
python scripts/export_curves.py "$LOGS" "$OUT/curves" --runs "${twice[@]%% *}"

drop_budget() {  # results folder, budget tag (30k): its kept curves and evaluations of tau02_<tag>_* runs renamed
  # tau02_*, so that curve_table.py and eval_table.py group them with the runs of the same config in other folders
  local kept
  for kept in "$1"/curves/*tau02_"$2"_*.csv "$1"/eval_*tau02_"$2"_*.json; do
    if [ -e "$kept" ]; then mv "$kept" "${kept/tau02_$2_/tau02_}"; fi
  done
}
ckpts() {  # checkpoint file name, then runs: their checkpoints' paths
  local file=$1 run; shift
  for run in "$@"; do echo "$LOGS/${run%% *}/version_0/checkpoints/$file"; done
}
probe_last_two() {  # budget in k, output file, then the runs: scripts/lead_vehicle_response.py on every run's checkpoint
  # at k-2, then at k, on the ten evaluation laps of configs/racetrack.yaml with $OVERLAY (plus $FRESH untrained agents)
  local k=$1 out=$2 step; shift 2
  # shellcheck disable=SC2046
  python scripts/lead_vehicle_response.py --config configs/racetrack.yaml --config "$OVERLAY" --episodes 10 \
    ${FRESH:+--fresh "$FRESH"} --ckpt $(for step in $((k - 2)) "$k"; do ckpts "env_steps=${step}000.ckpt" "$@"; done) \
    > "$out"
}
traffic_study() {  # run name prefix, overlay, output folder[, more fit args for every run[, more runs...]]
  # configs/racetrack.yaml and DDPG with the overlay, seeds 0-1, 0->80k (and any more runs, each "name its args",
  # named with the prefix and given the overlay after its own configs); the baselines, the last two checkpoints,
  # the critics' bias and the collision report on the overlay's own ten evaluation laps, the curves and the
  # evaluation plot, kept in the folder
  local prefix=$1 more=${4:-} run
  OVERLAY=$2 EVAL_OUT=$3
  shift $(($# < 4 ? $# : 4))
  mkdir -p "$EVAL_OUT"
  local runs=(
    "${prefix}_main_seed0 --config $OVERLAY $more --seed_everything 0"
    "${prefix}_main_seed1 --config $OVERLAY $more --seed_everything 1"
    "${prefix}_ablation_ddpg_seed0 --config configs/ablations/ddpg.yaml --config $OVERLAY $more --seed_everything 0"
    "${prefix}_ablation_ddpg_seed1 --config configs/ablations/ddpg.yaml --config $OVERLAY $more --seed_everything 1"
  )
  for run in "$@"; do runs+=("${prefix}_${run%% *} ${run#* } --config $OVERLAY $more"); done
  train_all "" "${runs[@]}"
  for policy in classical random; do
    python -m lightning_td3.baselines --config configs/racetrack.yaml --config "$OVERLAY" --episodes 10 \
      --policy "$policy" > "$EVAL_OUT/eval_$policy.json"
  done
  evaluate_all 80k_ "${runs[@]}"
  CKPT=env_steps=78000.ckpt evaluate_all 78k_ "${runs[@]}"
  # shellcheck disable=SC2046
  python scripts/value_bias.py --config configs/racetrack.yaml --config "$OVERLAY" --episodes 10 \
    --ckpt $(ckpts env_steps=80000.ckpt "${runs[@]}") > "$EVAL_OUT/value_bias_80k.md"
  python scripts/export_curves.py "$LOGS" "$EVAL_OUT/curves" --runs "${runs[@]%% *}"
  local both=()  # each run's 78k and 80k checkpoints, in that order
  for run in "${runs[@]}"; do
    mapfile -t -O "${#both[@]}" both < <(ckpts env_steps=78000.ckpt "$run"; ckpts env_steps=80000.ckpt "$run")
  done
  python scripts/collision_report.py --config configs/racetrack.yaml --config "$OVERLAY" --classical \
    --ckpt "${both[@]}" > "$EVAL_OUT/collisions_78k_80k.md"
  report "${prefix}_*" "$PWD/$EVAL_OUT/curves" "$PWD/$LOGS/${prefix}_report"
  cp "$LOGS/${prefix}_report/eval.png" "$EVAL_OUT/eval.png"
  unset OVERLAY EVAL_OUT
}
# session 13: the racetrack with traffic, 6 IDM vehicles (configs/overlays/racetrack_traffic.yaml), kept in
# docs/results/traffic (the collision reports were added in session 14)
traffic_study traffic6 configs/overlays/racetrack_traffic.yaml "$OUT/traffic"
# session 14: the same with collisions priced 4x, kept in docs/results/traffic_careful
traffic_study careful6 configs/overlays/racetrack_traffic_careful.yaml "$OUT/traffic_careful"
# session 15: traffic with the actor's temporal smoothness term (configs/overlays/smooth_actor.yaml, lambda 0.01),
# kept in docs/results/traffic_smooth (DDPG seed 1 and single critic seeds 0-1 ran in session 16)
traffic_study smooth001_traffic6 configs/overlays/racetrack_traffic.yaml "$OUT/traffic_smooth" \
  "--config configs/overlays/smooth_actor.yaml" \
  "ablation_single_critic_seed0 --config configs/ablations/single_critic.yaml --seed_everything 0" \
  "ablation_single_critic_seed1 --config configs/ablations/single_critic.yaml --seed_everything 1"
# session 16: does any of them slow for the car ahead? (each run's 78k and 80k checkpoints, and two untrained agents)
# shellcheck disable=SC2046
python scripts/lead_vehicle_response.py --config configs/racetrack.yaml --config configs/overlays/racetrack_traffic.yaml \
  --episodes 10 --fresh 2 --ckpt $(for run in main_seed0 main_seed1 ablation_ddpg_seed0 ablation_ddpg_seed1 \
  ablation_single_critic_seed0 ablation_single_critic_seed1; do ckpts env_steps=78000.ckpt "smooth001_traffic6_$run"
  ckpts env_steps=80000.ckpt "smooth001_traffic6_$run"; done) > "$OUT/traffic_smooth/lead_vehicle_78k_80k.md"
# session 16: DrQ's random shift (configs/overlays/random_shift.yaml) on the smoothed traffic config, seed 0, stopped at
# 40k; its 38k and 40k checkpoints evaluated and probed, its curve kept in docs/results/traffic_shift
SHIFTED=shift4_smooth001_traffic6_main_seed0
fit $SHIFTED --config configs/overlays/racetrack_traffic.yaml --config configs/overlays/smooth_actor.yaml \
  --config configs/overlays/random_shift.yaml --seed_everything 0 --data.max_env_steps 40000
mkdir -p "$OUT/traffic_shift"
OVERLAY=configs/overlays/racetrack_traffic.yaml EVAL_OUT=$OUT/traffic_shift evaluate_last_two 40 $SHIFTED
OVERLAY=configs/overlays/racetrack_traffic.yaml probe_last_two 40 "$OUT/traffic_shift/lead_vehicle_38k_40k.md" $SHIFTED
python scripts/export_curves.py "$LOGS" "$OUT/traffic_shift/curves" --runs $SHIFTED
# sessions 17-18: the shift with seeds 0-2 and its single-critic ablation (seeds 0-2) to 60k, seed 0 resumed from 40k;
# their 58k and 60k checkpoints evaluated into docs/results/traffic_shift and their curves kept there
SHIFT="--config configs/overlays/racetrack_traffic.yaml --config configs/overlays/smooth_actor.yaml \
--config configs/overlays/random_shift.yaml --data.max_env_steps 60000"
# shellcheck disable=SC2086
fit $SHIFTED $SHIFT --seed_everything 0 --ckpt_path last
shifted=(
  "$SHIFTED --seed_everything 0"
  "shift4_smooth001_traffic6_main_seed1 --seed_everything 1"
  "shift4_smooth001_traffic6_main_seed2 --seed_everything 2"
)
for seed in 0 1 2; do
  shifted+=("shift4_smooth001_traffic6_ablation_single_critic_seed$seed --config configs/ablations/single_critic.yaml \
--seed_everything $seed")
done
train_all "$SHIFT" "${shifted[@]:1}"
OVERLAY=configs/overlays/racetrack_traffic.yaml EVAL_OUT=$OUT/traffic_shift evaluate_last_two 60 "${shifted[@]}"
python scripts/export_curves.py "$LOGS" "$OUT/traffic_shift/curves" --runs "${shifted[@]%% *}"
# session 18: the heading-up frame (configs/overlays/racetrack_traffic_heading.yaml in place of racetrack_traffic.yaml)
# with the shift, seeds 0-1 to 40k; the 38k and 40k checkpoints evaluated and probed for the car ahead in that frame,
# kept in docs/results/traffic_heading with the curves
python scripts/frames_figure.py "$OUT/heading_frame.png"
HEADING=configs/overlays/racetrack_traffic_heading.yaml
heading=(
  "heading_shift4_smooth001_traffic6_main_seed0 --seed_everything 0"
  "heading_shift4_smooth001_traffic6_main_seed1 --seed_everything 1"
)
HEADING_FIT="--config $HEADING --config configs/overlays/smooth_actor.yaml --config configs/overlays/random_shift.yaml"
train_all "$HEADING_FIT --data.max_env_steps 40000" "${heading[@]}"
mkdir -p "$OUT/traffic_heading"
OVERLAY=$HEADING EVAL_OUT=$OUT/traffic_heading evaluate_last_two 40 "${heading[@]}"
OVERLAY=$HEADING FRESH=2 probe_last_two 40 "$OUT/traffic_heading/lead_vehicle_38k_40k.md" "${heading[@]}"
# ... then both resumed to 60k, their 58k and 60k checkpoints evaluated and probed the same way
train_all "$HEADING_FIT --data.max_env_steps 60000 --ckpt_path last" "${heading[@]}"
OVERLAY=$HEADING EVAL_OUT=$OUT/traffic_heading evaluate_last_two 60 "${heading[@]}"
OVERLAY=$HEADING probe_last_two 60 "$OUT/traffic_heading/lead_vehicle_58k_60k.md" "${heading[@]}"
python scripts/export_curves.py "$LOGS" "$OUT/traffic_heading/curves" --runs "${heading[@]%% *}"
# session 19: a third seed of the heading frame, and its single-critic and DDPG ablations (seeds 0-1), 0->60k; their
# 58k and 60k checkpoints evaluated and probed the same way, kept in docs/results/traffic_heading_ablations with the
# curves
heading_more=("heading_shift4_smooth001_traffic6_main_seed2 --seed_everything 2")
for seed in 0 1; do
  for ablation in single_critic ddpg; do
    heading_more+=("heading_shift4_smooth001_traffic6_ablation_${ablation}_seed$seed \
--config configs/ablations/$ablation.yaml --seed_everything $seed")
  done
done
train_all "$HEADING_FIT --data.max_env_steps 60000" "${heading_more[@]}"
mkdir -p "$OUT/traffic_heading_ablations"
OVERLAY=$HEADING EVAL_OUT=$OUT/traffic_heading_ablations evaluate_last_two 60 "${heading_more[@]}"
OVERLAY=$HEADING probe_last_two 60 "$OUT/traffic_heading_ablations/lead_vehicle_58k_60k.md" "${heading_more[@]}"
python scripts/export_curves.py "$LOGS" "$OUT/traffic_heading_ablations/curves" --runs "${heading_more[@]%% *}"
# session 20: the third seed of both heading ablations, 0->60k, evaluated and probed the same way
heading_seed2=()
for ablation in single_critic ddpg; do
  heading_seed2+=("heading_shift4_smooth001_traffic6_ablation_${ablation}_seed2 \
--config configs/ablations/$ablation.yaml --seed_everything 2")
done
train_all "$HEADING_FIT --data.max_env_steps 60000" "${heading_seed2[@]}"
OVERLAY=$HEADING EVAL_OUT=$OUT/traffic_heading_ablations evaluate_last_two 60 "${heading_seed2[@]}"
OVERLAY=$HEADING probe_last_two 60 "$OUT/traffic_heading_ablations/lead_vehicle_58k_60k_seed2.md" "${heading_seed2[@]}"
python scripts/export_curves.py "$LOGS" "$OUT/traffic_heading_ablations/curves" --runs "${heading_seed2[@]%% *}"
# ... and lambda 0.1, which held full throttle and ended every evaluation within a quarter lap up to 34k (stopped)
fit smooth01_traffic6_main_seed0 --config configs/overlays/racetrack_traffic.yaml \
  --config configs/overlays/smooth_actor.yaml --model.action_smoothness 0.1 --data.max_env_steps 34000
# session 14: how much the policies change their actions from step to step on the empty track, at 160k
# shellcheck disable=SC2046
python scripts/collision_report.py --config configs/racetrack.yaml --classical \
  --ckpt $(ckpts env_steps=160000.ckpt "${twice[@]:0:6}") > "$OUT/action_change_160k.md"
# session 21: the confirmatory test of the first 30k env steps, fresh seeds 3-4 of configs/racetrack.yaml and three
# of its ablations, each 0->30k, kept as docs/results/early_30k/curves/tau02_<group>_seed<N>.csv (no "30k_") so that
# curve_table.py pools them with seeds 0-2 of docs/results/curves
early=()
for seed in 3 4; do
  early+=("tau02_30k_main_seed$seed --seed_everything $seed")
  for ablation in single_critic no_delay ddpg; do
    early+=("tau02_30k_ablation_${ablation}_seed$seed --config configs/ablations/$ablation.yaml --seed_everything $seed")
  done
done
# session 22: the same test for DDPG alone, on fresh seeds 5-8 of DDPG and 5-6 of main
for seed in 5 6; do early+=("tau02_30k_main_seed$seed --seed_everything $seed"); done
for seed in 5 6 7 8; do
  early+=("tau02_30k_ablation_ddpg_seed$seed --config configs/ablations/ddpg.yaml --seed_everything $seed")
done
train_all "--data.max_env_steps 30000" "${early[@]}"
python scripts/export_curves.py "$LOGS" "$OUT/early_30k/curves" --runs "${early[@]%% *}"
drop_budget "$OUT/early_30k" 30k
fresh_pair_to() {  # seed, budget in k[, more fit args]: that seed of configs/racetrack.yaml and of DDPG trained to the
  # budget as tau02_80k_*, their last two checkpoints evaluated and their curves exported into fresh_seed<seed>, kept
  # as tau02_<group>_seed<seed> (no "80k_" in the run name); at 160k also the critics' bias (value_bias_160k.md)
  local seed=$1 k=$2 dir=$OUT/fresh_seed$1; shift 2
  local pair=("tau02_80k_main_seed$seed --seed_everything $seed"
    "tau02_80k_ablation_ddpg_seed$seed --config configs/ablations/ddpg.yaml --seed_everything $seed")
  mkdir -p "$dir"
  train_all "$* --data.max_env_steps ${k}000" "${pair[@]}"
  EVAL_OUT=$dir evaluate_last_two "$k" "${pair[@]}"
  python scripts/export_curves.py "$LOGS" "$dir/curves" --runs "${pair[@]%% *}"
  drop_budget "$dir" 80k
  [ "$k" != 160 ] || python scripts/value_bias.py --config configs/racetrack.yaml --episodes 10 \
    --ckpt $(ckpts env_steps=160000.ckpt "${pair[@]%% *}") > "$dir/value_bias_160k.md"
}
# sessions 23-30: main against DDPG on fresh seeds 3-8, each pair 0->80k and then resumed to 160k; seed N is the
# (N-2)th look at session 23's 2k-80k curve test and session 24's 158k + 160k test. The sessions ran each pair as
# tau02_160k_* and stopped it at a checkpoint (seed 3 at 80k, 4 at 112k, 5 at 100k, 6 and 7 at 80k, 8 at 46k and
# 80k) before resuming it, which trains as one run does: seed 3 in sessions 23-24, 4 in 25-26, 5 in 26-27, 6 in
# 27-28, 7 in 28-29, 8 in 29-30
for seed in 3 4 5 6 7 8; do
  fresh_pair_to "$seed" 80
  fresh_pair_to "$seed" 160 --ckpt_path last
done
ablation_runs() {  # run name (seed appended), the ablation's configs (one word), then seeds: sets runs to one
  # "name args" per seed
  local name=$1 configs=$2 seed config args=""; shift 2
  for config in $configs; do args+="--config $config "; done
  runs=()
  for seed in "$@"; do runs+=("$name$seed $args--seed_everything $seed"); done
}
keep_report() {  # results folder under OUT, budget in k, then the run names: the report notebook to the budget, its
  # validation table and evaluation plot kept in the folder (validation.md and eval.png at 80k, the ablation studies'
  # budget, as sessions 31-33 named them; validation_Kk.md and eval_Kk.png at any other)
  local folder=$1 k=$2 suffix=""; shift 2
  [ "$k" = 80 ] || suffix=_${k}k
  local report_dir=$LOGS/${folder}${suffix}_report
  report "$*" "$PWD/$LOGS" "$PWD/$report_dir" "${k}000"  # the notebook splits its run globs on spaces
  cp "$report_dir/validation.md" "$OUT/$folder/validation$suffix.md"
  cp "$report_dir/eval.png" "$OUT/$folder/eval$suffix.png"
}
study() {  # results folder under OUT, then the runs ("name args..."): each 0->K k env steps (K default 80) three at
  # a time, into that folder: the last two checkpoints, the critics' bias at the budget, the curves, and the report's
  # validation table and evaluation plot
  local folder=$1 k=${K:-80}; shift
  local names=("${@%% *}")
  mkdir -p "$OUT/$folder"
  JOBS=3 train_all "--data.max_env_steps ${k}000" "$@"
  EVAL_OUT=$OUT/$folder evaluate_last_two "$k" "$@"
  python scripts/value_bias.py --config configs/racetrack.yaml --episodes 10 \
    --ckpt $(ckpts "env_steps=${k}000.ckpt" "${names[@]}") > "$OUT/$folder/value_bias_${k}k.md"
  python scripts/export_curves.py "$LOGS" "$OUT/$folder/curves" --runs "${names[@]}"
  keep_report "$folder" "$k" "${names[@]}"
}
ablation_study() {  # results folder under OUT, then ablation_runs' args: study that ablation of configs/racetrack.yaml
  local folder=$1 runs; shift
  ablation_runs "$@"
  study "$folder" "${runs[@]}"
}
# DDPG without LayerNorm: every stability measure removed at once
STRIPPED="configs/ablations/ddpg.yaml configs/ablations/no_layernorm.yaml"
ablation_study no_stability tau02_ablation_ddpg_no_layernorm_seed "$STRIPPED" 0 1 2  # session 31
# session 32: fresh seeds for the tests session 31's runs suggested
ablation_study no_stability_fresh tau02_ablation_ddpg_no_layernorm_seed "$STRIPPED" 3 4 5
# session 33: no LayerNorm on fresh seeds, the test of session 10's final-policy lead
ablation_study no_layernorm_fresh tau02_ablation_no_layernorm_seed configs/ablations/no_layernorm.yaml 3 4 5
resume_fresh() {  # results folder under OUT, budget in k, then the runs: each resumed from its last checkpoint to the
  # budget, its last two checkpoints evaluated, the curves exported again (to the budget), and the report's validation
  # table and evaluation plot to the budget kept beside the earlier ones
  local folder=$1 k=$2; shift 2
  JOBS=3 train_all "--data.max_env_steps ${k}000 --ckpt_path last" "$@"
  EVAL_OUT=$OUT/$folder evaluate_last_two "$k" "$@"
  python scripts/export_curves.py "$LOGS" "$OUT/$folder/curves" --runs "${@%% *}"
  keep_report "$folder" "$k" "${@%% *}"
}
# ... then resumed to 120k and on to 160k (session 33)
ablation_runs tau02_ablation_no_layernorm_seed configs/ablations/no_layernorm.yaml 3 4 5
resume_fresh no_layernorm_fresh 120 "${runs[@]}"
resume_fresh no_layernorm_fresh 160 "${runs[@]}"
# session 34: no LayerNorm on seeds 6-8, 0->160k in one leg (its 78k/80k checkpoints were pruned by keep_last, so the
# 80k comparison is on the curve)
K=160 ablation_study no_layernorm_seeds6to8 tau02_ablation_no_layernorm_seed configs/ablations/no_layernorm.yaml 6 7 8
# session 35: no delay on six fresh seeds, the test of session 10's final-policy lead over it
ablation_study no_delay_fresh tau02_ablation_no_delay_seed configs/ablations/no_delay.yaml 5 6 7 8 9 10
# session 36: single critic on six fresh seeds, its final policies and its critic's bias against main's
ablation_study single_critic_fresh tau02_ablation_single_critic_seed configs/ablations/single_critic.yaml 5 6 7 8 9 10
# session 37: DDPG on three fresh seeds, its critic's bias against main's
ablation_study ddpg_fresh tau02_ablation_ddpg_seed configs/ablations/ddpg.yaml 9 10 11
# sessions 38-39: main on fresh seeds, its critic's bias on seeds no ablation was first read on (seed 11 ran in two
# legs, stopped at 14k in session 38 and resumed with --ckpt_path last in session 39; one leg is the same run)
ablation_study main_fresh tau02_main_seed "" 9 10 11
# session 40: the slow-lap preference: the classical controller at 15-50 km/h on the ten evaluation laps and over a
# fixed 100 s, then main's fresh seeds 9-11 over 100 s
FIXED=configs/overlays/eval_fixed_time.yaml
classical_pace() {  # folder under OUT/pace[, overlay]: the classical controller at 15-50 km/h, ten episodes each
  local out=$OUT/pace/$1 overlay=${2:-} v
  mkdir -p "$out"
  for v in 15 20 25 30 35 40 45 50; do
    OMP_NUM_THREADS=1 python -m lightning_td3.baselines --config configs/racetrack.yaml ${overlay:+--config "$overlay"} \
      --episodes 10 --target_kmh $v > "$out/eval_classical_${v}kmh.json"
  done
}
classical_pace lap
classical_pace fixed_time "$FIXED"
OVERLAY=$FIXED EVAL_OUT=$OUT/pace/fixed_time evaluate_last_two 80 tau02_main_seed9 tau02_main_seed10 tau02_main_seed11
# session 41: a pilot at TD3's own update ratio, one update per env step for 40k env steps (the main config's compute),
# main against DDPG on seed 12
UTD1=configs/overlays/one_update_per_step.yaml
utd1_test() {  # results folder under OUT, then seeds: main and DDPG at one update per env step, 0->40k, studied, and
  # their last two checkpoints also evaluated over a fixed 100 s
  local folder=$1 s pairs=(); shift
  for s in "$@"; do
    pairs+=("utd1_main_seed$s --config $UTD1 --seed_everything $s"
            "utd1_ablation_ddpg_seed$s --config configs/ablations/ddpg.yaml --config $UTD1 --seed_everything $s")
  done
  K=40 study "$folder" "${pairs[@]}"
  mkdir -p "$OUT/$folder/fixed_time"
  OVERLAY=$FIXED EVAL_OUT=$OUT/$folder/fixed_time evaluate_last_two 40 "${pairs[@]%% *}"
}
utd1_test one_update_per_step 12
# sessions 42-43: T16, the pilot's test on fresh seeds 13-15 (pre-registered in docs/TUNING_LOG.md)
utd1_test one_update_per_step_test 13 14 15
# sessions 44-45: T17, the same comparison on fresh seeds 16-18, scored over a fixed 100 s and on the laps
# (pre-registered in docs/TUNING_LOG.md)
utd1_test one_update_per_step_fixed_time_test 16 17 18
# session 47: T18, LayerNorm's steadier second half, main against no LayerNorm on fresh seeds 19-21 (pre-registered in
# docs/TUNING_LOG.md)
ablation_runs tau02_main_seed "" 19 20 21
t18=("${runs[@]}")
ablation_runs tau02_ablation_no_layernorm_seed configs/ablations/no_layernorm.yaml 19 20 21
study reliability_test "${t18[@]}" "${runs[@]}"
nstep1_study() {  # results folder under OUT, then seeds: main and DDPG at one-step targets (--data.n_step 1, the
  # library's default and plain TD3's), 0->80k, studied
  local folder=$1 main; shift
  ablation_runs nstep1_main_seed "" "$@"
  main=("${runs[@]/%/ --data.n_step 1}")
  ablation_runs nstep1_ablation_ddpg_seed configs/ablations/ddpg.yaml "$@"
  study "$folder" "${main[@]}" "${runs[@]/%/ --data.n_step 1}"
}
nstep1_study nstep1_pilot 22  # session 48: a one-seed pilot, main against DDPG
nstep1_study nstep1_test 23 24 25  # sessions 48-: T19, its test on fresh seeds (pre-registered in docs/TUNING_LOG.md)
# every table made from the kept evaluations and curves alone (checked by tests/test_results_tables_current.py);
# once, here: its 160k table needs the runs above
bash scripts/make_tables.sh "$OUT"
