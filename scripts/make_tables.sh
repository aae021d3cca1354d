#!/usr/bin/env bash
# Remakes every table of docs/RESULTS.md that is made from the kept data alone (the evaluations eval_*.json and
# the learning curves curves/*.csv under OUT): scripts/reproduce_results.sh calls it after its runs, and
# tests/test_results_tables_current.py checks that the committed tables are what it makes.
#   bash scripts/make_tables.sh [OUT]     (default docs/results)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-docs/results}
C=$OUT/curves
curves() { python scripts/curve_table.py "$C" "$@"; }
evals() { python scripts/eval_table.py "$OUT" "$@"; }

curves --budget 80000 --runs 'tau*' 'ablation_no_delay_seed2*' > "$OUT/curves_80k_tau.md"
curves --budget 80000 --runs 'tau02_*' --against tau02_main > "$OUT/curves_80k_vs_tau02_main.md"
curves --budget 80000 --runs 'tau02_*' --against tau02_main --window all > "$OUT/curves_80k_all_vs_tau02_main.md"
{ curves --budget 80000 --runs 'tau02_main*' 'tau02_classical_warmup*'
  curves --budget 80000 --runs 'tau02_main*' 'tau02_classical_warmup*' --against tau02_main --window all
} > "$OUT/curves_80k_warmup.md"

evals > "$OUT/eval_table.md"
evals --against 80k_main > "$OUT/eval_vs_80k_main.md"
evals --against main > "$OUT/eval_vs_main.md"
evals --pool 78k 80k > "$OUT/eval_table_pooled.md"
evals --pool 78k 80k --against 78k+80k_tau02_main > "$OUT/eval_vs_tau02_main.md"
evals --against 80k_tau02_main > "$OUT/eval_vs_80k_tau02_main.md"

# session 21: the first 30k env steps, the confirmatory test on fresh seeds 3-4 (early_30k/curves), then with the
# seeds 0-2 of curves/ that suggested it
E=$OUT/early_30k
EARLY=(--budget 30000 --runs 'tau02_main_seed[0-4]*' 'tau02_ablation_single_critic_seed*' 'tau02_ablation_no_delay_seed*'
  'tau02_ablation_ddpg_seed[0-4]*')
early() {  # curve_table.py folders and args: the groups' table, then tau02_main against each over the whole window
  python scripts/curve_table.py "$@"; echo; python scripts/curve_table.py "$@" --against tau02_main --window all
}
{ echo "Seeds 3-4 (the test):"; echo
  early "$E/curves" "${EARLY[@]}"
  echo; echo "Seeds 0-2 (which suggested it):"; echo
  curves "${EARLY[@]}" --against tau02_main --window all
  echo; echo "Seeds 0-4:"; echo
  early "$C" "$E/curves" "${EARLY[@]}"
} > "$E/early_30k.md"

# session 22: main against DDPG over the first 30k, the confirmatory test on fresh seeds (DDPG 5-8, main 5-6), then
# with every seed (main 0-6, DDPG 0-8)
FRESH=(--budget 30000 --runs 'tau02_main_seed[5-9]*' 'tau02_ablation_ddpg_seed[5-9]*')
ALL=(--budget 30000 --runs 'tau02_main_seed*' 'tau02_ablation_ddpg_seed*')
{ echo "Seeds 5-8 of DDPG, 5-6 of main (the fresh seeds):"; echo
  early "$E/curves" "${FRESH[@]}"
  echo; echo "Every seed, main 0-6 and DDPG 0-8 (the test):"; echo
  early "$C" "$E/curves" "${ALL[@]}"
  echo; echo "Main's seeds 0-6 against every group's seeds (not part of the test):"; echo
  curves "$E/curves" --budget 30000 --runs 'tau02_main_seed*' 'tau02_ablation_single_critic_seed*' \
    'tau02_ablation_no_delay_seed*' 'tau02_ablation_ddpg_seed*' --against tau02_main --window all
} > "$E/early_30k_ddpg.md"

# sessions 11-14: twice the budget (configs/racetrack.yaml seeds 0-2, DDPG seeds 0-2, single critic
# seeds 1-2, no LayerNorm seed 1 and no delay seed 0, to 160k)
{ curves --budget 160000 --runs 'tau02_main_seed*' 'tau02_ablation_*_seed*'
  echo
  curves --budget 160000 --runs 'tau02_main_seed*' 'tau02_ablation_*_seed*' --against tau02_main
  echo
  evals --pool 78k 80k --pool 158k 160k --per_seed --match '*+*_tau02_main_seed*' '*+*_tau02_ablation_ddpg_seed*' \
    '*+*_tau02_ablation_single_critic_seed[12]' '*+*_tau02_ablation_no_layernorm_seed1' \
    '*+*_tau02_ablation_no_delay_seed0' '160k_*'
  echo
  evals --pool 158k 160k --against 158k+160k_tau02_main --match '158k+160k_*'
} > "$OUT/twice_the_budget_160k.md"

# sessions 13-14: the racetrack with traffic, each overlay with its own folder of evaluations (baselines
# included) and curves: configs/overlays/racetrack_traffic.yaml (traffic6_*) and, with collisions priced 4x,
# racetrack_traffic_careful.yaml (careful6_*)
use() {  # results folders under OUT, one word: set eval_dirs and curve_dirs to their paths and their curves/ folders
  local folder
  eval_dirs=() curve_dirs=()
  for folder in $1; do eval_dirs+=("$OUT/$folder"); curve_dirs+=("$OUT/$folder/curves"); done
}
traffic_tables() {  # results folders under OUT (one word), the main runs' name[, budget in k (default 80)[, whose
  # checkpoints the per-seed table lists (default all)[, curve_table --runs globs]]]: the curves, main against each
  # group over the budget's second half and all of it, the last two checkpoints per seed, and main against each on them
  local main=$2 k=${3:-80} who=${4:-*} eval_dirs curve_dirs
  local last="$((k - 2))k+${k}k_" runs=(--runs "${@:5}")
  [ $# -gt 4 ] || runs=()
  use "$1"
  python scripts/curve_table.py "${curve_dirs[@]}" --budget "${k}000" "${runs[@]}"
  echo
  python scripts/curve_table.py "${curve_dirs[@]}" --budget "${k}000" "${runs[@]}" --against "$main"
  echo
  python scripts/curve_table.py "${curve_dirs[@]}" --budget "${k}000" "${runs[@]}" --against "$main" --window all
  echo
  python scripts/eval_table.py "${eval_dirs[@]}" --pool "$((k - 2))k" "${k}k" --per_seed --match classical random "$last$who"
  echo
  python scripts/eval_table.py "${eval_dirs[@]}" --pool "$((k - 2))k" "${k}k" --against "$last$main" \
    --match classical random "$last*"
}
traffic_tables traffic traffic6_main > "$OUT/traffic/traffic_80k.md"
traffic_tables traffic_careful careful6_main > "$OUT/traffic_careful/traffic_careful_80k.md"
# session 15: the actor's smoothness term (configs/overlays/smooth_actor.yaml, smooth001_traffic6_*) in the same
# traffic, tabled together with the session-13 runs it changes (same env, same baselines)
traffic_tables "traffic traffic_smooth" smooth001_traffic6_main > "$OUT/traffic_smooth/traffic_smooth_80k.md"
# session 16: DrQ's random shift in traffic (configs/overlays/random_shift.yaml on the smoothed traffic config), one
# run stopped at 40k, against the first 40k of the traffic main runs with and without the smoothness term
shifted="traffic traffic_smooth traffic_shift"
use "$shifted"
first=(--runs 'shift4_smooth001_traffic6_main_seed0*' 'smooth001_traffic6_main_*' 'traffic6_main_*')
{ python scripts/curve_table.py "${curve_dirs[@]}" --budget 40000 "${first[@]}"
  echo
  python scripts/curve_table.py "${curve_dirs[@]}" --budget 40000 "${first[@]}" --against shift4_smooth001_traffic6_main \
    --window all
  echo
  python scripts/eval_table.py "${eval_dirs[@]}" --match classical random '38k_*' '40k_*'
  echo
  python scripts/eval_table.py "${eval_dirs[@]}" --pool 38k 40k --per_seed --match '38k+40k_*'
} > "$OUT/traffic_shift/traffic_shift_40k.md"
# sessions 17-18: the shift with more seeds and its single-critic ablation, 0->60k, against the smoothed traffic runs
# without the shift over the same 60k (their 80k runs' first 60k)
traffic_tables "$shifted" shift4_smooth001_traffic6_main 60 '*' 'shift4_*' 'smooth001_traffic6_*' \
  > "$OUT/traffic_shift/traffic_shift_60k.md"
# session 18: the heading-up frame with the shift (heading_*), seeds 0-1 to 40k, against the same config in the
# world-aligned frame (shift4_*_main, their first 40k) and without the shift (smooth001_traffic6_main)
heading="traffic_smooth traffic_shift traffic_heading"
use "$heading"
framed=(--runs 'heading_*' 'shift4_smooth001_traffic6_main_*' 'smooth001_traffic6_main_*')
{ python scripts/curve_table.py "${curve_dirs[@]}" --budget 40000 "${framed[@]}"
  echo
  python scripts/curve_table.py "${curve_dirs[@]}" --budget 40000 "${framed[@]}" \
    --against heading_shift4_smooth001_traffic6_main --window all
  echo
  python scripts/eval_table.py "${eval_dirs[@]}" --pool 38k 40k --per_seed --match classical random '38k+40k_heading_*'
} > "$OUT/traffic_heading/traffic_heading_40k.md"
# ... the same two runs resumed to 60k, against the world-frame shift runs (main and single critic) at 60k
traffic_tables "$heading" heading_shift4_smooth001_traffic6_main 60 'heading_*' 'heading_*' 'shift4_*' \
  'smooth001_traffic6_main_*' > "$OUT/traffic_heading/traffic_heading_60k.md"
# session 19: a third heading seed, and the heading frame's single-critic and DDPG ablations (seeds 0-1), 0->60k, against
# heading seeds 0-1 and the world-frame runs of the same config over the same 60k
traffic_tables "$heading traffic_heading_ablations" heading_shift4_smooth001_traffic6_main 60 'heading_*' 'heading_*' \
  'shift4_*' 'smooth001_traffic6_*' > "$OUT/traffic_heading_ablations/traffic_heading_ablations_60k.md"
# sessions 23-30: main against DDPG on fresh seeds, each a further look at the two tests written for fresh seed 3:
# over 2k-80k (session 23; written for 160k, amended to 80k before any result past 30k was read) and on the 158k +
# 160k checkpoints (session 24, by resuming both runs). Fresh seed N is a test's (N-2)th look, confirmed only at
# 1 - 5 %/(N-2), the 5 % split over the looks. fresh_seedN/ keeps the pair's curves and its last two evaluations at
# each budget; each table is the fresh pair alone, then with every seed before it (seeds 0-2 in curves/ and the
# results folder itself)
last_two() {  # budget in k[, confidence of a later look at the test]: main's and DDPG's last two checkpoints in
  # eval_dirs pooled, per seed, then main against DDPG on them (at the given confidence first, if any)
  local a=$(($1 - 2))k b=$1k
  local pair=(--match "$a+${b}_tau02_main*" "$a+${b}_tau02_ablation_ddpg*")
  local against=(python scripts/eval_table.py "${eval_dirs[@]}" --pool "$a" "$b" --against "$a+${b}_tau02_main"
    "${pair[@]}")
  python scripts/eval_table.py "${eval_dirs[@]}" --pool "$a" "$b" --per_seed "${pair[@]}"; echo
  [ -z "${2:-}" ] || { "${against[@]}" --confidence "$2"; echo; }
  "${against[@]}"
}
at_80k() {  # folders under OUT (one word)[, confidence of a later look at the test]: curves, main against DDPG on
  # 2k-80k (the session-23 test; at the given confidence first, if any) and after 30k, the 78k+80k checkpoints
  local eval_dirs curve_dirs
  use "$1"
  local curve=(python scripts/curve_table.py "${curve_dirs[@]}" --budget 80000 --runs 'tau02_main_seed*'
    'tau02_ablation_ddpg_seed*')
  "${curve[@]}"; echo
  [ -z "${2:-}" ] || { "${curve[@]}" --against tau02_main --window all --confidence "$2"; echo; }
  "${curve[@]}" --against tau02_main --window all; echo
  "${curve[@]}" --against tau02_main --window all --learning_starts 30000; echo
  last_two 80
}
at_160k() {  # folders under OUT (one word)[, confidence of a later look at the test]: curves to 160k, main against
  # DDPG over 80k-160k, the 158k+160k checkpoints per seed and main against DDPG on them (the session-24 test)
  local eval_dirs curve_dirs
  use "$1"
  local curve=(python scripts/curve_table.py "${curve_dirs[@]}" --budget 160000 --runs 'tau02_main_seed*'
    'tau02_ablation_ddpg_seed*')
  "${curve[@]}"; echo
  "${curve[@]}" --against tau02_main; echo
  last_two 160 "${2:-}"
}
fresh_look() {  # seed (3 or more), budget in k (80 or 160): fresh_seed<seed>/fresh_<budget>k.md
  local seed=$1 k=$2 look=$(($1 - 2)) earlier="" s confidence="" percent
  local ordinal=("" "" second third fourth fifth sixth seventh eighth ninth tenth)
  local tables=at_80k measure="over 2k-80k"
  [ "$k" = 80 ] || { tables=at_160k measure="on the 158k + 160k checkpoints"; }
  for ((s = 3; s < seed; s++)); do earlier+=" fresh_seed$s"; done
  local heading="Seeds 0-$seed (the test: main against DDPG $measure):"
  if ((look > 1)); then
    confidence=$(awk -v n="$look" 'BEGIN { printf "%.5g", 1 - 0.05 / n }')
    percent=$(awk -v n="$look" 'BEGIN { printf "%.5g", 100 * (1 - 0.05 / n) }')
    heading="Seeds 0-$seed (the test, a ${ordinal[look]} look: main against DDPG $measure at $percent %, then 95 %):"
  fi
  {
    echo "Seed $seed (the fresh pair):"; echo
    "$tables" "fresh_seed$seed" $confidence
    echo; echo "$heading"; echo
    "$tables" ".$earlier fresh_seed$seed" $confidence
  } > "$OUT/fresh_seed$seed/fresh_${k}k.md"
}
# seeds 3-8: run to 80k, then resumed to 160k (sessions 23-30)
for seed in 3 4 5 6 7 8; do fresh_look "$seed" 80; fresh_look "$seed" 160; done

# session 31: DDPG without LayerNorm (every stability measure removed at once), seeds 0-2 to 80k, against main (seeds
# 0-8), no LayerNorm (0-2) and DDPG (0-8). First the two tests fixed in docs/TUNING_LOG.md (main against each, on the
# 2k-80k curve and the 78k+80k checkpoints, at 97.5 % each), then the stripped config against each at 95 %
# (descriptive, no test)
main_folders=". fresh_seed3 fresh_seed4 fresh_seed5 fresh_seed6 fresh_seed7 fresh_seed8"  # main seeds 0-8 at 80k
use "$main_folders no_stability"
curve=(python scripts/curve_table.py "${curve_dirs[@]}" --budget 80000 --runs 'tau02_main_seed*'
  'tau02_ablation_no_layernorm_seed*' 'tau02_ablation_ddpg_seed*' 'tau02_ablation_ddpg_no_layernorm_seed*')
final=(python scripts/eval_table.py "${eval_dirs[@]}" --pool 78k 80k --match '78k+80k_tau02_main*'
  '78k+80k_tau02_ablation_no_layernorm*' '78k+80k_tau02_ablation_ddpg*')
{ "${curve[@]}"; echo
  "${curve[@]}" --against tau02_main --window all --confidence 0.975; echo
  "${final[@]}" --against 78k+80k_tau02_main --confidence 0.975; echo
  python scripts/eval_table.py "${eval_dirs[@]}" --pool 78k 80k --per_seed --match '78k+80k_tau02_ablation_*no_layernorm*'
  echo; echo "Not fixed in advance (read after the tests): main against each over 41k-80k, 95 %:"; echo
  "${curve[@]}" --against tau02_main; echo
  echo "Descriptive (fixed in advance, no test): the stripped config against each, 95 %:"; echo
  "${curve[@]}" --against tau02_ablation_ddpg_no_layernorm --window all; echo
  "${final[@]}" --against 78k+80k_tau02_ablation_ddpg_no_layernorm
} > "$OUT/no_stability/no_stability_80k.md"

# session 32: the stripped config on fresh seeds 3-5, against main (seeds 0-8). First the two tests fixed in
# docs/TUNING_LOG.md on the fresh seeds only (T3: the 41k-80k curve, T4: the 78k+80k checkpoints, 97.5 % each), then,
# not the verdict, the whole curve on the fresh seeds and all three measures over stripped seeds 0-5 pooled
versus() {  # results folders (one word), the group compared against, the confidence, then the other groups' run
  # globs: the curves, then that group against each over 41k-80k, on the 78k+80k checkpoints, and over 2k-80k
  use "$1"
  local against=$2 confidence=$3 others=("${@:4}")
  local curve=(python scripts/curve_table.py "${curve_dirs[@]}" --budget 80000 --runs "${against}_seed*" "${others[@]}")
  "${curve[@]}"; echo
  "${curve[@]}" --against "$against" --confidence "$confidence"; echo
  python scripts/eval_table.py "${eval_dirs[@]}" --pool 78k 80k --match "78k+80k_${against}_seed*" \
    "${others[@]/#/78k+80k_}" --against "78k+80k_$against" --confidence "$confidence"; echo
  "${curve[@]}" --against "$against" --window all --confidence "$confidence"
}
stripped='tau02_ablation_ddpg_no_layernorm_seed*'
{ echo "Seeds 3-5 of the stripped config (the tests: T3 on the 41k-80k curve, T4 on the 78k+80k checkpoints; the"
  echo "2k-80k curve after them is reported, not tested):"; echo
  versus "$main_folders no_stability_fresh" tau02_main 0.975 "$stripped"; echo
  use "$main_folders no_stability_fresh"
  python scripts/curve_table.py "${curve_dirs[@]}" --budget 30000 --runs 'tau02_main_seed*' "$stripped"; echo
  python scripts/eval_table.py "$OUT/no_stability_fresh" --pool 78k 80k --per_seed; echo
  echo "Seeds 0-5 of the stripped config pooled (reported, not the verdict):"; echo
  versus "$main_folders no_stability no_stability_fresh" tau02_main 0.975 "$stripped"
} > "$OUT/no_stability_fresh/no_stability_fresh_80k.md"

# session 33: no LayerNorm on fresh seeds 3-5, against main (seeds 0-8): the test fixed in docs/TUNING_LOG.md (T5: the
# 78k+80k checkpoints, 95 %) among the other measures, then, not the verdict: the 80k checkpoint, no LayerNorm's seeds
# 0-5 pooled, and no LayerNorm against the stripped config
fresh_no_ln='tau02_ablation_no_layernorm_seed[3-5]*'
at_budget() {  # the other groups' run globs: main against them on the 80k checkpoint alone (eval folders of the last use)
  python scripts/eval_table.py "${eval_dirs[@]}" --match '80k_tau02_main_seed*' "${@/#/80k_}" --against 80k_tau02_main
}
last_two() {  # budget in k[, results folder]: the fresh runs' checkpoints at k-2 and k, per run, and the two pooled
  local k=$1 folder=${2:-no_layernorm_fresh}
  python scripts/eval_table.py "$OUT/$folder" --pool "$((k - 2))k" "${k}k" --per_seed \
    --match "$((k - 2))k_*" "${k}k_*" "$((k - 2))k+${k}k_*"
}
{ echo "Seeds 3-5 of no LayerNorm (the test, T5, is the 78k+80k table; the curves are reported, not tested):"; echo
  versus "$main_folders no_layernorm_fresh" tau02_main 0.95 "$fresh_no_ln"; echo
  at_budget "$fresh_no_ln"; echo
  last_two 80; echo
  echo "Seeds 0-5 of no LayerNorm pooled (reported, not the verdict):"; echo
  versus "$main_folders no_layernorm_fresh" tau02_main 0.95 'tau02_ablation_no_layernorm_seed*'; echo
  echo "No LayerNorm against the stripped config, seeds 3-5 of each, then 0-5 of each (reported, not tested):"; echo
  versus "no_stability_fresh no_layernorm_fresh" tau02_ablation_no_layernorm 0.95 "$stripped"; echo
  versus ". no_stability no_stability_fresh no_layernorm_fresh" tau02_ablation_no_layernorm 0.95 "$stripped"
} > "$OUT/no_layernorm_fresh/no_layernorm_fresh_80k.md"
# ... and the same runs resumed to 120k, then 160k (T6: main against them over 82k-120k on main's kept curves; T7: on
# the 158k+160k checkpoints; 95 % each)
past_budget() {  # budget in k: main against the fresh runs over the 40k before it, no LayerNorm's one earlier run past
  # 80k (seed 1) over the same window, then the fresh runs' last two checkpoints
  local k=$1
  local past=(python scripts/curve_table.py "${curve_dirs[@]}" --budget "${k}000" --learning_starts "$((k - 40))000")
  "${past[@]}" --runs 'tau02_main_seed*' "$fresh_no_ln"; echo
  "${past[@]}" --runs 'tau02_main_seed*' "$fresh_no_ln" --against tau02_main --window all; echo
  "${past[@]}" --runs 'tau02_ablation_no_layernorm_seed1*'; echo
  last_two "$k"
}
use "$main_folders no_layernorm_fresh"
past_budget 120 > "$OUT/no_layernorm_fresh/no_layernorm_fresh_120k.md"
final160() {  # the other groups' run glob: main against it on the 158k+160k checkpoints (eval folders of the last use)
  python scripts/eval_table.py "${eval_dirs[@]}" --pool 158k 160k --match '158k+160k_tau02_main_seed*' \
    "158k+160k_$1" --against 158k+160k_tau02_main
}
{ past_budget 160; echo
  final160 "$fresh_no_ln"
} > "$OUT/no_layernorm_fresh/no_layernorm_fresh_160k.md"

# session 34: no LayerNorm on three more fresh seeds, 6-8, 0->160k, against main (seeds 0-8): the tests fixed in
# docs/TUNING_LOG.md (T8': the 41k-80k curve, T9: the 82k-160k curve, T10: the 158k+160k checkpoints; 95 % each),
# then, not the verdict, seeds 3-8 pooled, and the collapse count (an evaluation below 0 after 40k) with its exact interval
fresh2='tau02_ablation_no_layernorm_seed[6-8]*'
pooled='tau02_ablation_no_layernorm_seed[3-8]*'
both="$main_folders no_layernorm_fresh no_layernorm_seeds6to8"
curves80() {  # results folders (one word), the no-LayerNorm runs' glob: the curves to 80k, main against them over
  # 41k-80k and over 2k-80k
  use "$1"
  local curve=(python scripts/curve_table.py "${curve_dirs[@]}" --budget 80000 --runs 'tau02_main_seed*' "$2")
  "${curve[@]}"; echo
  "${curve[@]}" --against tau02_main; echo
  "${curve[@]}" --against tau02_main --window all
}
{ echo "Seeds 6-8 of no LayerNorm (T8' is the 41k-80k comparison; their 78k and 80k checkpoints were pruned before"
  echo "they were evaluated, see docs/TUNING_LOG.md):"; echo
  curves80 "$main_folders no_layernorm_seeds6to8" "$fresh2"; echo
  echo "Seeds 3-8 pooled (reported, not the verdict):"; echo
  curves80 "$both" "$pooled"
} > "$OUT/no_layernorm_seeds6to8/no_layernorm_seeds6to8_80k.md"
{ echo "Seeds 6-8 past the budget (T9 is the 82k-160k comparison, T10 the 158k+160k one):"; echo
  use "$main_folders no_layernorm_seeds6to8"
  past=(python scripts/curve_table.py "${curve_dirs[@]}" --budget 160000 --learning_starts 80000)
  "${past[@]}" --runs 'tau02_main_seed*' "$fresh2"; echo
  "${past[@]}" --runs 'tau02_main_seed*' "$fresh2" --against tau02_main --window all; echo
  last_two 160 no_layernorm_seeds6to8; echo
  final160 "$fresh2"; echo
  echo "Seeds 3-8 pooled (reported, not the verdict):"; echo
  use "$both"
  past=(python scripts/curve_table.py "${curve_dirs[@]}" --budget 160000 --learning_starts 80000)
  "${past[@]}" --runs 'tau02_main_seed*' "$pooled" --against tau02_main --window all; echo
  final160 "$pooled"; echo
  echo "How often a run collapses (descriptive, fixed in advance):"; echo
  python scripts/curve_table.py "${curve_dirs[@]}" --budget 160000 --learning_starts 40000 --collapse_below 0 \
    --runs 'tau02_main_seed*' "$pooled"
} > "$OUT/no_layernorm_seeds6to8/no_layernorm_seeds6to8_160k.md"

# session 35: no delay on fresh seeds 5-10, against main (seeds 0-8): the test fixed in docs/TUNING_LOG.md (T11: the
# 78k+80k checkpoints, 95 %) among the other measures, then, not the verdict: the 80k checkpoint, the first 30k (a
# third look at session 21's test), each run's last two checkpoints, and no delay's seeds 0-2 and 5-10 pooled
fresh_study() {  # results folder, then the fresh runs' globs: main against them on every measure (the tests' among
  # them), the 80k checkpoint alone, the first 30k, and each fresh run's last two checkpoints
  local folder=$1; shift
  versus "$main_folders $folder" tau02_main 0.95 "$@"; echo
  at_budget "$@"; echo
  python scripts/curve_table.py "${curve_dirs[@]}" --budget 30000 --runs 'tau02_main_seed*' "$@" \
    --against tau02_main --window all; echo
  last_two 80 "$folder"
}
with_earlier() {  # results folder, the ablation's name, its run glob[, its seeds]: main against all of them pooled
  echo "Seeds ${4:-0-2 and 5-10} of $2 pooled (reported, not the verdict):"; echo
  versus "$main_folders $1" tau02_main 0.95 "$3"
}
fresh_nd=('tau02_ablation_no_delay_seed[5-9]*' 'tau02_ablation_no_delay_seed10*')
{ echo "Seeds 5-10 of no delay (the test, T11, is the 78k+80k table; the rest is reported, not tested):"; echo
  fresh_study no_delay_fresh "${fresh_nd[@]}"; echo
  with_earlier no_delay_fresh "no delay" 'tau02_ablation_no_delay_seed*'
} > "$OUT/no_delay_fresh/no_delay_fresh_80k.md"

# session 36: single critic on fresh seeds 5-10, against main (seeds 0-8): the tests fixed in docs/TUNING_LOG.md (T12:
# the 78k+80k checkpoints; T13: the critic's relative bias at 80k against main's seeds 0-2, the only main runs
# measured there; 95 % each) among the other measures, then, not the verdict: the 80k checkpoint, the first 30k, each
# run's last two checkpoints, the bias against no delay on the same seeds, and single critic's seeds 0-2 and 5-10 pooled
fresh_sc=('tau02_ablation_single_critic_seed[5-9]*' 'tau02_ablation_single_critic_seed10*')
{ echo "Seeds 5-10 of single critic (the tests: T12 is the 78k+80k table, T13 the bias table; the rest is reported,"
  echo "not tested):"; echo
  fresh_study single_critic_fresh "${fresh_sc[@]}"; echo
  bias=(python scripts/bias_table.py "$OUT/value_bias_80k_tau.md" "$OUT/single_critic_fresh/value_bias_80k.md"
    "$OUT/no_delay_fresh/value_bias_80k.md" --match 'tau02_main_seed*' "${fresh_sc[@]}" "${fresh_nd[@]}")
  echo "The critic's relative bias at 80k (main: seeds 0-2; single critic and no delay: seeds 5-10; T13 is the"
  echo "single critic against main):"; echo
  "${bias[@]}"; echo
  "${bias[@]}" --against tau02_ablation_single_critic; echo
  with_earlier single_critic_fresh "single critic" 'tau02_ablation_single_critic_seed*'
} > "$OUT/single_critic_fresh/single_critic_fresh_80k.md"

# session 37: DDPG on fresh seeds 9-11, against main: the test fixed in docs/TUNING_LOG.md (T14: DDPG's critic bias at
# 80k against main's seeds 0-2, 95 %), then, not the verdict: the bias against the single critic's seeds 5-10 and
# DDPG's seeds 0-2 pooled with 9-11, the return on every measure against main (seeds 0-8), DDPG's seeds 0-11 pooled,
# and the 160k biases of sessions 11-30 pooled over seeds 0-8 (runs named apart: tau02_160k_* for seeds 3-8)
fresh_ddpg=('tau02_ablation_ddpg_seed9*' 'tau02_ablation_ddpg_seed1[01]*')
fresh_bias() {  # confidence, the groups set against the rest (one word), main's value_bias table, then main's run
  # globs: the relative bias at 80k of those main runs, DDPG's seeds 9-11 and the single critic's seeds 5-10, then
  # each named group against the others
  local confidence=$1 groups=$2 table=$3 group; shift 3
  local bias=(python scripts/bias_table.py "$table" "$OUT/ddpg_fresh/value_bias_80k.md"
    "$OUT/single_critic_fresh/value_bias_80k.md" --match "$@" "${fresh_ddpg[@]}" "${fresh_sc[@]}")
  "${bias[@]}"; echo
  for group in $groups; do "${bias[@]}" --against "$group" --confidence "$confidence"; echo; done
}
{ echo "The critic's relative bias at 80k (main: seeds 0-2; DDPG: seeds 9-11; single critic: seeds 5-10; T14 is DDPG"
  echo "against main):"; echo
  fresh_bias 0.95 tau02_ablation_ddpg "$OUT/value_bias_80k_tau.md" 'tau02_main_seed*'
  echo "DDPG's seeds 0-2 and 9-11 pooled at 80k, against main's seeds 0-2 (reported, not the verdict):"; echo
  python scripts/bias_table.py "$OUT/value_bias_80k_tau.md" "$OUT/ddpg_fresh/value_bias_80k.md" \
    --match 'tau02_main_seed*' 'tau02_ablation_ddpg_seed*' --against tau02_ablation_ddpg; echo
  echo "At 160k, seeds 0-8 of main and of DDPG pooled (sessions 11-30, read in session 37; reported, not tested):"; echo
  bias160=(python scripts/bias_table.py "$OUT/value_bias_160k.md" "$OUT"/fresh_seed[3-8]/value_bias_160k.md
    --as tau02_main 'tau02*_main_seed*' --as tau02_ablation_ddpg 'tau02*_ablation_ddpg_seed*')
  "${bias160[@]}"; echo
  "${bias160[@]}" --against tau02_ablation_ddpg; echo
  echo "The return, seeds 9-11 of DDPG against main (seeds 0-8; reported, not tested):"; echo
  fresh_study ddpg_fresh "${fresh_ddpg[@]}"; echo
  with_earlier ddpg_fresh DDPG 'tau02_ablation_ddpg_seed*' 0-11
} > "$OUT/ddpg_fresh/ddpg_fresh_80k.md"

# sessions 38-39: main on fresh seeds 9-11 to 80k (seed 11 resumed from 14k in session 39, see docs/TUNING_LOG.md):
# the tests fixed there (T15a: DDPG's seeds 9-11 and T15b: the single critic's seeds 5-10, each against main's seeds
# 9-11 on the critic's relative bias at 80k, 97.5 % each), then, not the verdict: main's seeds 0-2 and 9-11 pooled
# against every ablation measured at 80k, main's fresh runs on their own, and the return of main's seeds 0-11 against
# single critic, no delay and DDPG on every measure
fresh_main=('tau02_main_seed9*' 'tau02_main_seed1[01]*')
{ echo "The critic's relative bias at 80k (main: seeds 9-11; DDPG: seeds 9-11; single critic: seeds 5-10; T15a is DDPG"
  echo "against main, T15b the single critic against main, 97.5 % each):"; echo
  fresh_bias 0.975 "tau02_ablation_ddpg tau02_ablation_single_critic" "$OUT/main_fresh/value_bias_80k.md" \
    "${fresh_main[@]}"
  echo "Main's seeds 0-2 and 9-11 pooled at 80k, against DDPG (seeds 0-2, 9-11), single critic (0-2, 5-10) and no"
  echo "delay (0-2, 5-10) (reported, not the verdict):"; echo
  python scripts/bias_table.py "$OUT/value_bias_80k_tau.md" "$OUT/main_fresh/value_bias_80k.md" \
    "$OUT/ddpg_fresh/value_bias_80k.md" "$OUT/single_critic_fresh/value_bias_80k.md" \
    "$OUT/no_delay_fresh/value_bias_80k.md" --match 'tau02_main_seed*' 'tau02_ablation_ddpg_seed*' \
    'tau02_ablation_single_critic_seed*' 'tau02_ablation_no_delay_seed*' --against tau02_main; echo
  echo "Main's seeds 9-11 on their own, then main's seeds 0-8 (reported, not tested):"; echo
  last_two 80 main_fresh; echo
  use "$main_folders"
  python scripts/eval_table.py "${eval_dirs[@]}" --pool 78k 80k --match '78k+80k_tau02_main*'; echo
  echo "The return, main's seeds 0-11 against single critic (seeds 0-2, 5-10), no delay (0-2, 5-10) and DDPG (0-11)"
  echo "(reported, not tested):"; echo
  versus "$main_folders main_fresh single_critic_fresh no_delay_fresh ddpg_fresh" tau02_main 0.95 \
    'tau02_ablation_single_critic_seed*' 'tau02_ablation_no_delay_seed*' 'tau02_ablation_ddpg_seed*'
} > "$OUT/main_fresh/main_fresh_80k.md"

# session 40: the slow-lap preference. The classical controller at 15-50 km/h on the ten evaluation laps and over a
# fixed 100 s (configs/overlays/eval_fixed_time.yaml), main's fresh seeds 9-11 over 100 s, then the pace, lap success
# and lap length of the final policies, main's seeds 0-11 against single critic, no delay and DDPG (reported, not tested)
use "$main_folders main_fresh single_critic_fresh no_delay_fresh ddpg_fresh"
final=(python scripts/eval_table.py "${eval_dirs[@]}" --pool 78k 80k --match '78k+80k_tau02_main_seed*'
  '78k+80k_tau02_ablation_single_critic_seed*' '78k+80k_tau02_ablation_no_delay_seed*' '78k+80k_tau02_ablation_ddpg_seed*')
{ echo "The classical controller at the speed it is given, on the ten evaluation laps:"; echo
  python scripts/eval_table.py "$OUT/pace/lap" --reasons; echo
  echo "The same over a fixed 100 s, and main's seeds 9-11 (checkpoints 78k, 80k and both pooled):"; echo
  python scripts/eval_table.py "$OUT/pace/fixed_time" --reasons --pool 78k 80k; echo
  echo "The final policies on the lap (78k + 80k), main's seeds 0-11 against single critic (0-2, 5-10), no delay (0-2,"
  echo "5-10) and DDPG (0-11): pace, lap success and lap length (reported, not tested):"; echo
  "${final[@]}"; echo
  for metric in avg_speed_kmh success_rate episode_length_mean; do
    "${final[@]}" --against 78k+80k_tau02_main --metric "$metric"; echo
  done
} > "$OUT/pace/pace.md"

# session 41: a pilot at TD3's own update ratio, one update per env step for 40k env steps (38k updates, the main
# config's compute), main and DDPG on seed 12 (reported, not tested): the last two checkpoints on the lap and over a
# fixed 100 s, the critics' bias at 40k, then beside main and DDPG at the default ratio (seeds 0-11): the final
# policies, the bias at 80k, and the curves over the same 2k-40k env steps
use "$main_folders main_fresh ddpg_fresh one_update_per_step"
{ echo "The pilot's two runs (seed 12) on the ten evaluation laps, per checkpoint and pooled:"; echo
  python scripts/eval_table.py "$OUT/one_update_per_step" --pool 38k 40k --per_seed --reasons; echo
  echo "The same checkpoints over a fixed 100 s (configs/overlays/eval_fixed_time.yaml):"; echo
  python scripts/eval_table.py "$OUT/one_update_per_step/fixed_time" --pool 38k 40k --per_seed --reasons; echo
  echo "The final policies beside main and DDPG at the default ratio (78k + 80k, seeds 0-11):"; echo
  python scripts/eval_table.py "${eval_dirs[@]}" --pool 78k 80k --pool 38k 40k --match '78k+80k_tau02_main_seed*' \
    '78k+80k_tau02_ablation_ddpg_seed*' '38k+40k_utd1_*'; echo
  echo "The critics' relative bias, at 40k here and at 80k at the default ratio (main: seeds 0-2 and 9-11; DDPG: seeds"
  echo "0-2 and 9-11):"; echo
  python scripts/bias_table.py "$OUT/value_bias_80k_tau.md" "$OUT/main_fresh/value_bias_80k.md" \
    "$OUT/ddpg_fresh/value_bias_80k.md" "$OUT/one_update_per_step/value_bias_40k.md" \
    --match 'tau02_main_seed*' 'tau02_ablation_ddpg_seed*' 'utd1_*'; echo
  echo "The curves over the same env steps, 2k-40k (at the default ratio, half the updates):"; echo
  python scripts/curve_table.py "${curve_dirs[@]}" --budget 40000 --runs 'tau02_main_seed*' 'tau02_ablation_ddpg_seed*' \
    'utd1_*'
} > "$OUT/one_update_per_step/one_update_per_step_40k.md"

# sessions 41-43: T16, fixed in docs/TUNING_LOG.md before its runs: main against DDPG at one update per env step on
# fresh seeds 13-15, 0->40k. T16a: main - DDPG on the 38k+40k lap return; T16b: DDPG - main relative bias at 40k;
# 97.5 % each. Then, reported beside them: pace and lap success, the same checkpoints over a fixed 100 s, the curves,
# and the pilot's seed 12 pooled with the test's seeds
utd1_commands() {  # results folder under OUT: set laps, fixed, bias and curves to the table commands over its
  # 38k + 40k checkpoints on the laps and over 100 s, its critics' bias at 40k and its 2k-40k curves
  use "$1"
  laps=(python scripts/eval_table.py "${eval_dirs[@]}" --pool 38k 40k --match '38k+40k_*')
  fixed=(python scripts/eval_table.py "$OUT/$1/fixed_time" --pool 38k 40k --match '38k+40k_*')
  bias=(python scripts/bias_table.py "$OUT/$1/value_bias_40k.md")
  curves=(python scripts/curve_table.py "${curve_dirs[@]}" --budget 40000 --runs 'utd1_main_seed*'
    'utd1_ablation_ddpg_seed*')
}
per_seed_then_test() {  # an eval_table command over the 38k + 40k checkpoints: per seed and pooled, then main
  # against DDPG at the tests' 97.5 %
  "$@" --per_seed --reasons; echo
  "$@" --against 38k+40k_utd1_main --confidence 0.975; echo
}
pace_against_main() {  # pace, lap success and lap length on the laps, main against DDPG
  local metric
  for metric in avg_speed_kmh success_rate episode_length_mean; do
    "${laps[@]}" --against 38k+40k_utd1_main --metric "$metric"; echo
  done
}
T16=one_update_per_step_test
use "one_update_per_step $T16"
pilot_and_test=("${eval_dirs[@]}")
utd1_commands $T16
{ echo "T16a: the final policies (38k + 40k) on the ten evaluation laps, per seed and pooled, then main against DDPG"
  echo "(97.5 %):"; echo
  per_seed_then_test "${laps[@]}"
  echo "T16b: the critics' relative bias at 40k, then DDPG against main (97.5 %):"; echo
  "${bias[@]}"; echo
  "${bias[@]}" --against utd1_ablation_ddpg --confidence 0.975; echo
  echo "Reported, not the verdict. Pace, lap success and lap length of the same policies, main against DDPG:"; echo
  pace_against_main
  echo "The same checkpoints over a fixed 100 s (configs/overlays/eval_fixed_time.yaml):"; echo
  "${fixed[@]}" --per_seed --reasons; echo
  "${fixed[@]}" --against 38k+40k_utd1_main
  echo; echo "The curves, 2k-40k, then main against DDPG over all of it:"; echo
  "${curves[@]}"; echo
  "${curves[@]}" --against utd1_main --window all; echo
  echo "Seeds 12-15, the pilot's seed pooled with the test's: the lap return, then the bias:"; echo
  python scripts/eval_table.py "${pilot_and_test[@]}" --pool 38k 40k --match '38k+40k_*' --against 38k+40k_utd1_main
  echo
  python scripts/bias_table.py "$OUT/one_update_per_step/value_bias_40k.md" "$OUT/$T16/value_bias_40k.md" \
    --against utd1_ablation_ddpg
} > "$OUT/$T16/one_update_per_step_test_40k.md"

# sessions 44-45: T17, fixed in docs/TUNING_LOG.md before its runs: main against DDPG at one update per env step on
# fresh seeds 16-18, 0->40k. T17a: main - DDPG on the 38k+40k return over a fixed 100 s; T17b: the same on the lap
# return; 97.5 % each. Then, reported beside them: pace and lap success, the critics' bias at 40k, the curves, and
# T16's seeds 13-15 pooled with T17's
T17=one_update_per_step_fixed_time_test
utd1_commands $T17
{ echo "T17a: the final policies (38k + 40k) over a fixed 100 s (configs/overlays/eval_fixed_time.yaml), per seed and"
  echo "pooled, then main against DDPG (97.5 %):"; echo
  per_seed_then_test "${fixed[@]}"
  echo "T17b: the same policies on the ten evaluation laps, per seed and pooled, then main against DDPG (97.5 %):"; echo
  per_seed_then_test "${laps[@]}"
  echo "Reported, not the verdict. Pace, lap success and lap length on the laps, main against DDPG:"; echo
  pace_against_main
  echo "The critics' relative bias at 40k, then DDPG against main:"; echo
  "${bias[@]}"; echo
  "${bias[@]}" --against utd1_ablation_ddpg; echo
  echo "The curves, 2k-40k, then main against DDPG over all of it:"; echo
  "${curves[@]}"; echo
  "${curves[@]}" --against utd1_main --window all; echo
  echo "Seeds 13-18, T16's seeds pooled with T17's: over 100 s, on the laps, then the bias:"; echo
  python scripts/eval_table.py "$OUT/$T16/fixed_time" "$OUT/$T17/fixed_time" --pool 38k 40k --match '38k+40k_*' \
    --against 38k+40k_utd1_main; echo
  python scripts/eval_table.py "$OUT/$T16" "$OUT/$T17" --pool 38k 40k --match '38k+40k_*' --against 38k+40k_utd1_main
  echo
  python scripts/bias_table.py "$OUT/$T16/value_bias_40k.md" "$OUT/$T17/value_bias_40k.md" --against utd1_ablation_ddpg
} > "$OUT/$T17/one_update_per_step_fixed_time_test_40k.md"

# session 46: LayerNorm and TD3's three fixes (twin critic, delay, target smoothing) as a 2x2 design, from runs kept
# above: main, DDPG, no LayerNorm and DDPG without LayerNorm at 80k. What each measure changes with the other kept and
# with it gone, and the interaction (whether LayerNorm covers for TD3's fixes), 95 %, reported (not fixed in advance)
cells=(tau02_main tau02_ablation_ddpg tau02_ablation_no_layernorm tau02_ablation_ddpg_no_layernorm)
measures=(--measures "TD3's fixes" LayerNorm)
design=(--two_by_two "${cells[@]}" "${measures[@]}")
use "$main_folders main_fresh ddpg_fresh no_stability no_stability_fresh no_layernorm_fresh no_layernorm_seeds6to8"
final=(python scripts/eval_table.py "${eval_dirs[@]}" --pool 78k 80k --two_by_two "${cells[@]/#/78k+80k_}"
  "${measures[@]}")
design_curve() {  # budget, curve_table.py args: the curves of the four configs as the design
  python scripts/curve_table.py "${curve_dirs[@]}" --budget "$1" --runs "${cells[@]/%/_seed*}" "${design[@]}" "${@:2}"
}
{ echo "The final policies (78k + 80k) on the ten evaluation laps (main and DDPG: seeds 0-11; no LayerNorm and DDPG"
  echo "without LayerNorm: seeds 0-5), the return, then lap success:"; echo
  "${final[@]}"; echo
  "${final[@]}" --metric success_rate; echo
  echo "The learning curve's second half, 41k-80k, all of it, 2k-80k, and its first 30k, 2k-30k (main and DDPG: seeds"
  echo "0-11; no LayerNorm: seeds 0-8; DDPG without LayerNorm: seeds 0-5):"; echo
  design_curve 80000; echo
  design_curve 80000 --window all; echo
  design_curve 30000 --window all; echo
  echo "The critics' relative bias at 80k (main and DDPG: seeds 0-2 and 9-11; the other two: seeds 0-5):"; echo
  python scripts/bias_table.py "$OUT/value_bias_80k_tau.md" "$OUT/main_fresh/value_bias_80k.md" \
    "$OUT/ddpg_fresh/value_bias_80k.md" "$OUT/no_layernorm_fresh/value_bias_80k.md" \
    "$OUT/no_stability/value_bias_80k.md" "$OUT/no_stability_fresh/value_bias_80k.md" "${design[@]}"
} > "$OUT/layernorm_and_td3_fixes_80k.md"

# session 47: how unsteady the curves to 80k are, by Chan et al.'s within-run reliability measures (curve_table.py
# --reliability), main and every ablation kept at 80k; then main against each on each measure over 41k-80k, 95 %,
# reported (found in these runs; T18 in docs/TUNING_LOG.md tests LayerNorm's two largest on fresh seeds)
use "$main_folders main_fresh ddpg_fresh no_stability no_stability_fresh no_layernorm_fresh no_layernorm_seeds6to8
  single_critic_fresh no_delay_fresh"
steadiness=(python scripts/curve_table.py "${curve_dirs[@]}" --budget 80000 --runs 'tau02_main_seed*' 'tau02_ablation_*')
{ echo "Per run, over the window: the interquartile range of the changes between consecutive evaluations, the mean of"
  echo "the worst 10 % of them as a drop, and the largest fall from the best evaluation so far; mean ± std over runs"
  echo "(main and DDPG: seeds 0-11; no LayerNorm, single critic, no delay: 9 seeds; DDPG without LayerNorm: 6)."
  echo "Over 41k-80k, then 2k-80k:"; echo
  "${steadiness[@]}" --reliability; echo
  "${steadiness[@]}" --reliability --window all; echo
  echo "Main against each, over 41k-80k:"; echo
  for metric in dispersion short_term_risk max_drawdown; do
    "${steadiness[@]}" --against tau02_main --metric "$metric"; echo
  done
} > "$OUT/reliability_80k.md"

# sessions 47-48: T18, fixed in docs/TUNING_LOG.md before its runs: no LayerNorm against main on fresh seeds 19-21,
# 0->80k, over 41k-80k. T18a: the worst 10 % of the eval-to-eval changes as a drop (short-term risk); T18b: the largest
# fall from the best evaluation so far (max drawdown); 97.5 % each. Then, reported beside them: the interquartile range
# of the changes, the mean return over 41k-80k and 2k-80k, the final policies, the critics' bias at 80k, and the fresh
# seeds pooled with the runs that suggested the test
T18=reliability_test
use "$T18"
pair=(--runs 'tau02_main_seed*' 'tau02_ablation_no_layernorm_seed*')
test=(python scripts/curve_table.py "${curve_dirs[@]}" --budget 80000 "${pair[@]}")
no_ln_against=(--against tau02_ablation_no_layernorm)
final=(python scripts/eval_table.py "${eval_dirs[@]}" --pool 78k 80k --match '78k+80k_*')
bias=(python scripts/bias_table.py "$OUT/$T18/value_bias_80k.md")
{ echo "How unsteady each config's curves are, over 41k-80k, then 2k-80k (seeds 19-21 of each):"; echo
  "${test[@]}" --reliability; echo
  "${test[@]}" --reliability --window all; echo
  echo "T18a: no LayerNorm against main on the worst 10 % of the changes, as a drop, over 41k-80k (97.5 %):"; echo
  "${test[@]}" "${no_ln_against[@]}" --metric short_term_risk --confidence 0.975; echo
  echo "T18b: no LayerNorm against main on the largest drawdown over 41k-80k (97.5 %):"; echo
  "${test[@]}" "${no_ln_against[@]}" --metric max_drawdown --confidence 0.975; echo
  echo "Reported, not the verdict. The interquartile range of the changes over 41k-80k, then the curves and the mean"
  echo "return over 41k-80k and 2k-80k, no LayerNorm against main (95 %):"; echo
  "${test[@]}" "${no_ln_against[@]}" --metric dispersion; echo
  "${test[@]}"; echo
  "${test[@]}" "${no_ln_against[@]}"; echo
  "${test[@]}" "${no_ln_against[@]}" --window all; echo
  echo "Runs with an evaluation below 0 after 40k (the collapse count of sessions 33-34):"; echo
  "${test[@]}" --learning_starts 40000 --collapse_below 0; echo
  echo "The final policies (78k + 80k) on the ten evaluation laps, per seed, then no LayerNorm against main:"; echo
  "${final[@]}" --per_seed --reasons; echo
  "${final[@]}" --against 78k+80k_tau02_ablation_no_layernorm; echo
  echo "The critics' relative bias at 80k, then no LayerNorm against main:"; echo
  "${bias[@]}"; echo
  "${bias[@]}" "${no_ln_against[@]}"; echo
  echo "Seeds 19-21 pooled with the runs kept at 80k that suggested the test (main: seeds 0-11 and 19-21; no LayerNorm:"
  echo "seeds 0-8 and 19-21), over 41k-80k:"; echo
  use "$main_folders main_fresh no_layernorm_fresh no_layernorm_seeds6to8 $T18"
  pooled=(python scripts/curve_table.py "${curve_dirs[@]}" --budget 80000 "${pair[@]}")
  "${pooled[@]}" --reliability; echo
  for metric in short_term_risk max_drawdown dispersion; do
    "${pooled[@]}" "${no_ln_against[@]}" --metric "$metric"; echo
  done
} > "$OUT/$T18/reliability_test_80k.md"

# session 48: a pilot at one-step targets (--data.n_step 1), main and DDPG on seed 22, 0->80k (reported, not tested):
# the curves, the final policies, the critics' bias at 80k and the reliability measures, each beside main and DDPG at
# n-step 3 (main: seeds 0-11 and 19-21; DDPG: seeds 0-11)
use "$main_folders main_fresh ddpg_fresh reliability_test nstep1_pilot"
both=(--runs 'tau02_main_seed*' 'tau02_ablation_ddpg_seed*' 'nstep1_*')
nstep=(python scripts/curve_table.py "${curve_dirs[@]}" --budget 80000 "${both[@]}")
{ echo "The pilot's two runs (seed 22) on the ten evaluation laps, per checkpoint and pooled:"; echo
  python scripts/eval_table.py "$OUT/nstep1_pilot" --pool 78k 80k --per_seed --reasons; echo
  echo "Their final policies (78k + 80k) beside main's and DDPG's at n-step 3:"; echo
  python scripts/eval_table.py "${eval_dirs[@]}" --pool 78k 80k --match '78k+80k_tau02_main_seed*' \
    '78k+80k_tau02_ablation_ddpg_seed*' '78k+80k_nstep1_*'; echo
  echo "The curves, over 41k-80k and 2k-80k, and how unsteady they are over 41k-80k:"; echo
  "${nstep[@]}"; echo
  "${nstep[@]}" --reliability; echo
  echo "The critics' relative bias at 80k (at n-step 3, main: seeds 0-2, 9-11 and 19-21; DDPG: seeds 0-2 and 9-11):"
  echo
  python scripts/bias_table.py "$OUT/value_bias_80k_tau.md" "$OUT/main_fresh/value_bias_80k.md" \
    "$OUT/ddpg_fresh/value_bias_80k.md" "$OUT/reliability_test/value_bias_80k.md" "$OUT/nstep1_pilot/value_bias_80k.md" \
    --match 'tau02_main_seed*' 'tau02_ablation_ddpg_seed*' 'nstep1_*'
} > "$OUT/nstep1_pilot/nstep1_pilot_80k.md"
