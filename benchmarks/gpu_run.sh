#!/usr/bin/env bash
# One device session: full-profile quality on 20,000 claims and training throughput on the GPU.
# Run by the device tool with `.gpu` carried (fp16 copy of MiniLM + the few wheels the GPU image lacks):
#   bash benchmarks/gpu_run.sh
set -uo pipefail
source benchmarks/gpu_setup.sh
DEVICE=${DEVICE:-cuda}; CLAIMS=${CLAIMS:-20000}; EXTRA=${EXTRA:-}
run() { echo "== $*"; timeout 240 $PY "$@" --base-model "$BASE" --device "$DEVICE" 2>&1 | grep -v "Loading weights\|Warning\|warn" ; }
run -m benchmarks.quality --claims "$CLAIMS" --profile full --method full --tasks claim_risk --batch-size 128 --encoder-lr 1e-4 --epochs 10 --out "$OUT/claim_full_b128.json" $EXTRA
run -m benchmarks.quality --claims "$CLAIMS" --profile full --method full --tasks sentiment --out "$OUT/sentiment_full.json" $EXTRA
run -m benchmarks.quality --claims "$CLAIMS" --profile full --method lora --tasks claim_risk,sentiment --out "$OUT/lora.json" $EXTRA
run -m benchmarks.quality --claims "$CLAIMS" --profile full --method full --tasks claim_risk --batch-size 64 --encoder-lr 5e-5 --epochs 10 --out "$OUT/claim_full_b64.json" $EXTRA
echo "== training throughput"
timeout 200 $PY -m benchmarks.bench_training --device "$DEVICE" --base-model "$BASE" 2>&1 | grep -v "Loading weights\|it/s\]" | tail -5
