#!/usr/bin/env bash
# One device session for the GPU scoring figures (README "Scoring and SHAP speed"), not yet run:
#   1. bench_scoring on CUDA: 200,000 texts, bf16, blocks tokenised ahead, vs the default pipeline;
#   2. bench_score_db on CUDA: 50,000 claims from SQLite to SQLite, chunks read inline vs ahead;
#   3. the batch-independence test on CUDA kernels (fp32 and bf16).
# Prepare `.gpu` as for gpu_run.sh (the few wheels the GPU image lacks in .gpu/whl, the MiniLM folder
# in .gpu/minilm), carry it, and run `bash benchmarks/gpu_scoring.sh` with a 540 s limit.
set -uo pipefail
source benchmarks/gpu_setup.sh
echo "== bench_scoring"
timeout 150 $PY -m benchmarks.bench_scoring --device cuda --base-model "$BASE" 2>&1 | tee "$OUT/bench_scoring.txt"
echo "== bench_score_db"
timeout 240 $PY -m benchmarks.bench_score_db --device cuda --claims 50000 --rounds 1 --base-model "$BASE" 2>&1 \
  | tee "$OUT/bench_score_db.txt"
echo "== batch independence on CUDA"
timeout 120 $PY -m pytest -q -p no:cacheprovider tests/core/modeling/test_models.py -k batched_with 2>&1 \
  | tail -5 | tee "$OUT/batch_independence.txt"
