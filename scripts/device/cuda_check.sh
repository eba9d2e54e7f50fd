#!/usr/bin/env bash
# The CUDA check (docs/cuda.md): builds lace against the LibTorch of the python3 on PATH (on the lent GPU
# machine: PyTorch with CUDA), runs the C++ test suite there, then runs `lace sample` and `lace edit` on CPU
# and on CUDA with the same seeds, compares the results and times `lace sample`. Writes OUT/report.md (a failed
# step's last lines go into it) and OUT/logs.tgz (one log per step; also written when the check stops early).
#
# Usage: scripts/device/cuda_check.sh OUT [DEPS]
#   DEPS: a folder made by pack_build_deps.sh, where Debian's packages are missing
# Env:   BUILD (build folder, default build-cuda), JOBS (default: all cores), PYTHON (default python3),
#        SUITE (0: skip the C++ suite), EDIT (0: skip the lace edit comparison), FFHQ (0: skip the
#        1024x1024 timings), for a short lease
set -uo pipefail
out=$(realpath -m "$1")
deps=${2:+$(realpath "$2")}
py=${PYTHON:-python3}
build=${BUILD:-build-cuda}
jobs=${JOBS:-$(nproc)}
work=$(mktemp -d /tmp/lace-cuda-check.XXXX)
logs=$work/logs
mkdir -p "$out" "$logs"
report="$out/report.md"
trap 'tar czf "$out/logs.tgz" -C "$work" logs; rm -rf "$work"' EXIT
say() { echo "$*" | tee -a "$report"; }
# step NAME CMD...: runs CMD with its output in logs/NAME.log; notes exit status and seconds in the report
step() {
  local name=$1; shift
  local t0; t0=$(date +%s.%N)
  "$@" > "$logs/$name.log" 2>&1
  local rc=$?
  say "- $name: exit $rc, $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
  [ $rc -eq 0 ] || tail -n 25 "$logs/$name.log" | sed 's/^/    /' >> "$report"
  return $rc
}

say "# CUDA check, $(date -u +%Y-%m-%dT%H:%MZ), checkout at $(git rev-parse --short HEAD 2>/dev/null) (plus uncommitted changes, if any)"
say ""
say "$($py -c 'import torch; print("torch", torch.__version__, "| CUDA", torch.version.cuda, "|",
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")') | $(nproc) cores"
say ""
torch_prefix=$($py -c 'import torch; print(torch.utils.cmake_prefix_path)')
abi=$($py -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
args=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix")
command -v ninja > /dev/null && args+=(-G Ninja)
if [ -n "$deps" ]; then
  # GoogleTest from source, with the C++ ABI that this LibTorch was built with (else the tests don't link)
  step gtest bash -c "cmake -S '$deps/src/googletest' -B '$work/gtest-build' -DCMAKE_BUILD_TYPE=Release \
      -DBUILD_GMOCK=OFF -DCMAKE_CXX_FLAGS=-D_GLIBCXX_USE_CXX11_ABI=$abi -DCMAKE_INSTALL_PREFIX='$work/gtest' && \
      cmake --build '$work/gtest-build' -j $jobs && cmake --install '$work/gtest-build'" || exit 1
  args+=(-DCLI11_DIR="$deps/cmake" -Dnlohmann_json_DIR="$deps/cmake" -Dspdlog_DIR="$deps/cmake"
         -DGTest_ROOT="$work/gtest" -DCMAKE_INCLUDE_PATH="$deps/include")
fi
step configure cmake -S . -B "$build" "${args[@]}" || exit 1
step build cmake --build "$build" -j "$jobs" || exit 1
# run_ctest: the GoogleTest cases only (their names hold a dot); the script tests need Debian's
# python3-torch. One intra-op thread per test process: with LibTorch's default (a thread per core) a dozen
# parallel tests oversubscribe the cores many times over (on the GPU machine the suite had not finished
# after 200 s; here, 2 cores, it takes 100 s).
run_ctest() {
  [ "${SUITE:-1}" = 0 ] && { say "- ctest: skipped (SUITE=0)"; return; }
  step ctest env OMP_NUM_THREADS=1 ctest --test-dir "$build" -R '\.' -j "$jobs" --output-on-failure --timeout 300
  say "  $(grep -E 'tests passed|tests failed' "$logs/ctest.log")"
  grep -A20 "The following tests FAILED" "$logs/ctest.log" | sed 's/^/  /' >> "$report"
}

lace=$build/lace
if ! $py -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
  say "no CUDA device: the CPU/CUDA comparison is skipped"
  run_ctest
  exit 0
fi
# On a GPU machine the device comparison comes first: it is what only that machine can measure.
step bench-bundle $py scripts/make_test_bundle.py --size bench --out "$work/bench" --samples 50000

say ""
say "## Same seeds on CPU and CUDA (\`lace sample --attrs 'smile AND glasses' -s 7\`, dopri5, per-sample norm)"
say ""
say "| bundle | images | max abs z difference | max probability difference | mean abs pixel difference (0-255) | mean NFE cpu / cuda |"
say "|---|---|---|---|---|---|"
for b in tiny bench; do
  dir=models/tiny; n=64
  [ $b = bench ] && dir=$work/bench
  for dev in cpu cuda; do
    step "sample-$b-$dev" "$lace" -q --device $dev sample --model "$dir" --attrs "smile AND glasses" -n $n -b $n -s 7 \
      --out "$work/$b-$dev"
  done
  say "| $b $($py scripts/device/compare_devices.py "$work/$b-cpu" "$work/$b-cuda")"
done

say ""
say "## Wall time of \`lace sample\`, whole process (load, ODE solve, synthesis, PNG + record)"
say ""
say "| bundle | device | images (batch) | wall (s) | stages (lace -v) |"
say "|---|---|---|---|---|"
timed() {  # bundle-name device n batch dir [extra flags]
  local t0; t0=$(date +%s.%N)
  "$lace" -v --device "$2" sample --model "$5" --attrs "smile AND NOT glasses" -n "$3" -b "$4" -s 1 \
    --out "$work/timed-$1-$2-$3" > "$logs/timed-$1-$2-$3.log" 2>&1 || { say "| $1 | $2 | $3 ($4) | failed | |"; return; }
  say "| $1 | $2 | $3 ($4) | $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}') |\
 $(grep -o 'stages: .*' "$logs/timed-$1-$2-$3.log" | head -n 1) |"
}
timed bench cpu 64 64 "$work/bench"
timed bench cuda 64 64 "$work/bench"
timed bench cpu 1024 256 "$work/bench"
timed bench cuda 1024 256 "$work/bench"
say ""
run_ctest
# lace edit after the suite: an edit is thousands of small evaluations, minutes on either device (docs/cuda.md,
# session 37), so the comparison is short.
compare_edit() {
  say ""
  say "## Same starts on CPU and CUDA, \`lace edit\` (face bundle, its editing defaults: verifier, retries, polish)"
  say ""
  local edits=$work/edits.json
  echo '{"start": {"seed": 42, "count": 2}, "steps": ["glasses", "yaw=-0.6"]}' > "$edits"
  say "Sequence: \`$(cat "$edits")\`"
  say ""
  say "| records | max abs z difference | max abs w+ difference | max probability difference | mean abs pixel difference (0-255) | same tries | mean NFE cpu / cuda |"
  say "|---|---|---|---|---|---|---|"
  for dev in cpu cuda; do
    step "edit-$dev" "$lace" -q --device $dev edit --sequence "$edits" --out "$work/edit-$dev" || return
  done
  say "$($py scripts/device/compare_devices.py --edit "$work/edit-cpu" "$work/edit-cuda")"
}
if [ "${EDIT:-1}" = 0 ]; then say "- lace edit comparison: skipped (EDIT=0)"; else compare_edit; fi

# Last: a real-size (FFHQ config-f, 1024x1024) bundle with random weights.
time_ffhq() {
  step ffhq-bundle $py scripts/stylegan2_bench.py make-bundle "$work/ffhq"
  timed ffhq-1024px cuda 1 1 "$work/ffhq"
  timed ffhq-1024px cuda 16 16 "$work/ffhq"
  timed ffhq-1024px cuda 64 16 "$work/ffhq"
  timed ffhq-1024px cpu 1 1 "$work/ffhq"
}
if [ "${FFHQ:-1}" = 0 ]; then say "- FFHQ-size timings: skipped (FFHQ=0)"; else time_ffhq; fi
say ""
say "GPU memory after the runs: $(nvidia-smi --query-gpu=memory.used --format=csv,noheader 2>/dev/null)"
