#!/usr/bin/env bash
# Trains several face GAN runs side by side on one GPU for a fixed wall time, ranks them by attribute
# coverage (scripts/faces/rank_runs.py) and packs what is worth bringing back (docs/cuda.md):
#   OUT/variants.tgz      every run's log.jsonl, stdout.log, sample and reconstruction sheets, the ranking
#   OUT/best.pt.part-*    the best run's weights without optimizer moments (Trainer.weights), in 15 MiB parts;
#                         `cat best.pt.part-* > weights.pt`, then resume it on any machine as RUN/checkpoint.pt
# or, with BRING=snapshot (a third of the size: G_ema alone, for a bundle rather than for more training):
#   OUT/best-g_ema.pt     the best scored snapshot of any run at any step (rank_runs.py --best-snapshot-to),
#                         CPU tensors; build_bundle.py --checkpoint takes it
#   OUT/pairs.npz.part-*  with PAIRS=N also: N pseudo-labelled pairs of that snapshot made on the GPU
#                         (make_pairs.py --device), in 15 MiB parts: `cat pairs.npz.part-* > pairs.npz`, then
#                         build_bundle.py --pairs pairs.npz --reuse-pairs -n N
#
# Usage: scripts/device/train_gan_variants.sh OUT MINUTES 'NAME ARGS...' ['NAME ARGS...' ...]
#   ARGS are train_gan.py flags. A variant whose ARGS hold --resume starts from $SEED_WEIGHTS (a
#   Trainer.weights or checkpoint file). Env: DEVICE (default cuda), PYTHON (default python3), LABELER
#   (default models/faces/labeler.pt), RUNS (default /tmp/lace-variants), POOL (pool size, default 100000),
#   BRING (weights or snapshot, default weights), PAIRS (with BRING=snapshot; default 0: none), CHECKER (default
#   models/faces/checker.pt; '' for none: each snapshot also logs how alike it and the labeler read the samples),
#   CHOOSE_BY (how the best snapshot is chosen, rank_runs.py --choose-by: default agreement with a checker,
#   else coverage), MIN_COVERAGE (with agreement; default 0.5).
set -uo pipefail
out=$(realpath -m "$1"); minutes=$2; shift 2
py=${PYTHON:-python3}
runs=${RUNS:-/tmp/lace-variants}
labeler=$(realpath "${LABELER:-models/faces/labeler.pt}")
checker=${CHECKER-models/faces/checker.pt}   # set but empty: no checker
checker_flag=(); choose_by=coverage
if [ -n "$checker" ]; then checker_flag=(--checker "$(realpath "$checker")"); choose_by=agreement; fi
choose_by=${CHOOSE_BY:-$choose_by}
mkdir -p "$out" "$runs"
export PYTHONUNBUFFERED=1 OPENBLAS_NUM_THREADS=1
here=$(cd "$(dirname "$0")/../faces" && pwd)

# The pool once for all runs (they share data_seed 0 and the pool size).
$py -c "import sys; sys.path.insert(0, '$here'); import train_gan as t; p = t.Pool(${POOL:-100000}, 0, $(nproc), cache='$runs/pool.npz'); print(f'pool: {p.seconds:.1f} s')"

names=()
for spec in "$@"; do
  read -r name args <<< "$spec"
  names+=("$name")
  mkdir -p "$runs/$name"
  if [[ " $args " == *" --resume "* ]]; then cp "${SEED_WEIGHTS:?a --resume variant needs SEED_WEIGHTS}" "$runs/$name/checkpoint.pt"; fi
  # shellcheck disable=SC2086  # ARGS are words
  $py "$here/train_gan.py" --run-dir "$runs/$name" --device "${DEVICE:-cuda}" --threads 1 --nice 0 \
    --labeler "$labeler" "${checker_flag[@]}" --pool-cache "$runs/pool.npz" --stop-after-minutes "$minutes" --checkpoint-minutes 1e9 \
    $args > "$runs/$name/stdout.log" 2>&1 &
done
wait

dirs=("${names[@]/#/$runs/}")
snapshot_flag=()
[ "${BRING:-weights}" = snapshot ] && snapshot_flag=(--best-snapshot-to "$runs/best-snapshot.txt"
  --choose-by "$choose_by" --min-coverage "${MIN_COVERAGE:-0.5}")
# One ranking: the table, the best run, and with BRING=snapshot the best snapshot (its line comes first)
$py "$here/rank_runs.py" "${dirs[@]}" --best-to "$runs/best.txt" "${snapshot_flag[@]}" 2>&1 | tee "$runs/ranking.md"
$py "$here/rank_runs.py" "${dirs[@]}" --snapshots | tee -a "$runs/ranking.md"   # every snapshot, for the record
best=$(cat "$runs/best.txt")
snap=$(cat "$runs/best-snapshot.txt" 2>/dev/null)
echo "best run: $best"
tar czf "$out/variants.tgz" -C "$runs" ranking.md $(cd "$runs" && ls best-snapshot.txt 2>/dev/null) \
  $(cd "$runs" && ls -d */log.jsonl */stdout.log */samples-latest.png */reconstructions-latest.png */data_rates.json 2>/dev/null)
if [ "${BRING:-weights}" = snapshot ]; then
  [ -n "${snap:-}" ] || { echo "no scored snapshot to bring back"; exit 1; }
  # CPU tensors, so the file loads on a machine without CUDA
  $py -c "import torch; torch.save(torch.load('$snap', map_location='cpu', weights_only=False), '$out/best-g_ema.pt')"
  if [ "${PAIRS:-0}" -gt 0 ]; then
    mkdir -p "$runs/bundle"
    $py -c "import json, sys; sys.path.insert(0, '$here'); from export_generator import export_generator as e
info = e('$out/best-g_ema.pt', '$runs/bundle/generator.pt')
json.dump({'generator': {'file': 'generator.pt', **info}}, open('$runs/bundle/lace.json', 'w'))"
    $py "$here/make_pairs.py" --bundle "$runs/bundle" --labeler "$labeler" --out "$runs/pairs.npz" -n "$PAIRS" \
      --device "${DEVICE:-cuda}" --threads 4
    split -b 15M -d "$runs/pairs.npz" "$out/pairs.npz.part-"
  fi
elif [ -f "$best/checkpoint.pt" ]; then
  $py -c "import sys, torch; sys.path.insert(0, '$here'); import train_gan as t; torch.save(t.Trainer.load('$best/checkpoint.pt').weights(), '$runs/best.pt')"
  split -b 15M -d "$runs/best.pt" "$out/best.pt.part-"
  echo "$(basename "$best")" > "$runs/best-name.txt"
fi
ls -la "$out"
