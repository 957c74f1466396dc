# Sourced by the GPU session scripts: output folder, the carried `.gpu` wheels and MiniLM copy, the GPU's name.
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
BASE=${BASE:-.gpu/minilm}
if [ -d .gpu/whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
fi
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true
PY=${PY:-python3}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | tee "$OUT/gpu.txt"
