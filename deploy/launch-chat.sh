#!/usr/bin/env bash
# Launch one replica for workload 'chat' (on_premise): 12 x 8 H200-SXM-141GB, fp8, vllm tp8 ep8 dp-attention
# Written by `llmplan deploy`; options from vllm 0.11 (vllm/engine/arg_utils.py at 99d7eb5d; deprecations there target v0.12.0).
# NOTE: the plan predicted another engine; vllm's own limits are used.
# Start one process per replica, each on its own GPUs, e.g.
#   CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 PORT=8000 ./launch-chat.sh
set -euo pipefail
cd "$(dirname "$0")"
exec vllm serve deepseek-ai/DeepSeek-R1 \
    --served-model-name deepseek-ai/DeepSeek-R1 \
    --host 0.0.0.0 \
    --port "${PORT:-8000}" \
    --tensor-parallel-size 1 \
    --data-parallel-size 8 \
    --enable-expert-parallel \
    --quantization fp8 \
    --kv-cache-dtype auto \
    --max-model-len 5120 \
    --max-num-seqs 256 \
    --max-num-batched-tokens 8192 \
    --gpu-memory-utilization 0.9 \
    --no-enable-prefix-caching \
    --enable-chunked-prefill
