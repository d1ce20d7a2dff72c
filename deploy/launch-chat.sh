#!/usr/bin/env bash
# Launch one replica for workload 'chat' (on_premise): 3 x 8 H200-SXM-141GB, fp8, trtllm tp8 ep8 dp-attention
# Written by `llmplan deploy`; options from trtllm main at 00209af1 (tensorrt_llm/commands/serve.py; PyTorch backend).
# NOTE: the plan chose disaggregated units of 8:24 prefill:decode GPUs; these commands start aggregated replicas of the same layout (set up the engine's prefill/decode disaggregation by hand, or plan with that layout excluded).
# Start one process per replica, each on its own GPUs, e.g.
#   CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 PORT=8000 ./launch-chat.sh
# fp8 weights: point the model argument at a fp8 checkpoint of deepseek-ai/DeepSeek-R1 (the id names the unquantised weights)
set -euo pipefail
cd "$(dirname "$0")"
exec trtllm-serve deepseek-ai/DeepSeek-R1 \
    --host 0.0.0.0 \
    --port "${PORT:-8000}" \
    --backend pytorch \
    --tp_size 8 \
    --ep_size 8 \
    --max_seq_len 5120 \
    --max_batch_size 2048 \
    --max_num_tokens 8192 \
    --kv_cache_free_gpu_memory_fraction 0.9 \
    --enable_chunked_prefill \
    --extra_llm_api_options extra-llm-api-options.yaml
