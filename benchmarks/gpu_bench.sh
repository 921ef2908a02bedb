#!/usr/bin/env bash
# The BENCHMARKS.md grids on one GPU machine, one process per protocol in parallel.
#
# Prepared on a CPU machine first (the GPU machine holds no MiniLM wheel and no data):
#   python benchmarks/precompute_text.py --out .bench/minilm_texts.pt
#   mkdir -p .bench/data && cp -r ../shared/data/utd_mhad ../shared/data/msr_action3d .bench/data/
# then, on the GPU machine, from the repo root:  OUT=/path/for/results bash benchmarks/gpu_bench.sh
#
# Grid A (issue 5): Neuron vs the plain global alignment of Table 6's first row, utd-f1..f5, 3 seeds.
# Grid B (issue 6): every method and ablation, utd-f1..f5 and msr-f1..f4, 1 seed.
# The laptop defaults of RunConfig throughout; MiniLM vectors looked up from the precomputed table.
set -u
export PYTHONPATH="$PWD/src" PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1
D="$PWD/.bench/data"; TXT="precomputed:$PWD/.bench/minilm_texts.pt"
ROOTS="utd-mhad=$D/utd_mhad,msr-action3d=$D/msr_action3d"
OUT="${OUT:-$PWD/.bench/out}"; B="${BENCH_DIR:-/tmp/zeroskel-bench}"; LIMIT="${LIMIT:-420}"
mkdir -p "$OUT" "$B"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')" | tee "$OUT/machine.txt"
nproc >> "$OUT/machine.txt"
UTD="${UTD:-utd-f1 utd-f2 utd-f3 utd-f4 utd-f5}"; MSR="${MSR:-msr-f1 msr-f2 msr-f3 msr-f4}"
EXTRA="${EXTRA:-}"   # extra key=value overrides (a CPU smoke test uses tiny settings)
A_METHODS="neuron,neuron-global"
B_METHODS="neuron,neuron-paper,neuron-global,neuron-no-compression,neuron-no-evolving,neuron-no-memory,neuron-no-granularity,global_align,global_align-manual,global_align-one-turn,smie,cada_vae"
start=$(date +%s)
for p in $UTD; do
  timeout "$LIMIT" python3 -m zeroskel bench --methods "$A_METHODS" --protocols "$p" --seeds 3 \
    --data-root "$ROOTS" --out "$B/A" --quiet "text.encoder=$TXT" $EXTRA > "$B/A-$p.log" 2>&1 &
done
for p in $UTD $MSR; do
  timeout "$LIMIT" python3 -m zeroskel bench --methods "$B_METHODS" --protocols "$p" --seeds 1 \
    --data-root "$ROOTS" --out "$B/B" --quiet "text.encoder=$TXT" $EXTRA > "$B/B-$p.log" 2>&1 &
done
wait
echo "grids took $(( $(date +%s) - start )) s (wall, 14 processes on one GPU)" | tee -a "$OUT/machine.txt"
python3 benchmarks/collect_bench.py --out "$B/A" --methods "$A_METHODS" --protocols "${UTD// /,}" --seeds 3
python3 benchmarks/collect_bench.py --out "$B/B" --methods "$B_METHODS" --protocols "$(echo $UTD $MSR | tr ' ' ',')" --seeds 1
cp "$B/A/results.csv" "$OUT/A_results.csv"; cp "$B/A/results.md" "$OUT/A_results.md"
cp "$B/B/results.csv" "$OUT/B_results.csv"; cp "$B/B/results.md" "$OUT/B_results.md"
tail -n 5 "$B"/*.log > "$OUT/logs_tail.txt" 2>&1
(cd "$B" && tar czf "$OUT/bench_metrics.tgz" --exclude='*.safetensors' --exclude='*.pt' --exclude='*.npz' --exclude='text' A B) || true
