#!/usr/bin/env bash
# Trains several face GAN runs side by side on one GPU for a fixed wall time, ranks them by attribute
# coverage (scripts/faces/rank_runs.py) and packs what is worth bringing back (docs/cuda.md):
#   OUT/variants.tgz      every run's log.jsonl, stdout.log, sample and reconstruction sheets, the ranking
#   OUT/best.pt.part-*    the best run's weights without optimizer moments (Trainer.weights), in 15 MiB parts;
#                         `cat best.pt.part-* > weights.pt`, then resume it on any machine as RUN/checkpoint.pt
#
# Usage: scripts/device/train_gan_variants.sh OUT MINUTES 'NAME ARGS...' ['NAME ARGS...' ...]
#   ARGS are train_gan.py flags. A variant whose ARGS hold --resume starts from $SEED_WEIGHTS (a
#   Trainer.weights or checkpoint file). Env: DEVICE (default cuda), PYTHON (default python3), LABELER
#   (default models/faces/labeler.pt), RUNS (default /tmp/lace-variants), POOL (pool size, default 100000).
set -uo pipefail
out=$(realpath -m "$1"); minutes=$2; shift 2
py=${PYTHON:-python3}
runs=${RUNS:-/tmp/lace-variants}
labeler=$(realpath "${LABELER:-models/faces/labeler.pt}")
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
    --labeler "$labeler" --pool-cache "$runs/pool.npz" --stop-after-minutes "$minutes" --checkpoint-minutes 1e9 \
    $args > "$runs/$name/stdout.log" 2>&1 &
done
wait

dirs=("${names[@]/#/$runs/}")
$py "$here/rank_runs.py" "${dirs[@]}" --best-to "$runs/best.txt" | tee "$runs/ranking.md"
best=$(cat "$runs/best.txt")
echo "best: $best"
tar czf "$out/variants.tgz" -C "$runs" ranking.md \
  $(cd "$runs" && ls -d */log.jsonl */stdout.log */samples-latest.png */reconstructions-latest.png */data_rates.json 2>/dev/null)
if [ -f "$best/checkpoint.pt" ]; then
  $py -c "import sys, torch; sys.path.insert(0, '$here'); import train_gan as t; torch.save(t.Trainer.load('$best/checkpoint.pt').weights(), '$runs/best.pt')"
  split -b 15M -d "$runs/best.pt" "$out/best.pt.part-"
  echo "$(basename "$best")" > "$runs/best-name.txt"
fi
ls -la "$out"
