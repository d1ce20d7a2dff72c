#!/usr/bin/env bash
# Measure a deployed replica with the workload's lengths and planned rates, then
# calibrate and re-plan (see README.md). Usage: ./bench.sh [http://HOST:PORT]
set -euo pipefail
ENDPOINT="${1:-http://localhost:8000}"
llmplan bench "$ENDPOINT" \
    --model deepseek-ai/DeepSeek-R1 \
    --served-model deepseek-ai/DeepSeek-R1 \
    --gpu H200-SXM-141GB \
    --engine trtllm \
    --precision fp8 \
    --num-gpus 8 \
    --tp 8 \
    --pp 1 \
    --rate 19.29,38.58,48.23 \
    --requests 200 \
    --input-tokens 1017 \
    --output-tokens 1017 \
    --lengths lognormal \
    --length-cv 0.785 \
    --out measured-chat.csv
