"""How a fine-tuning workload trains: the method named by a scenario and the sizing model.

The memory each method needs is computed by :mod:`llmplan.sizing.finetune`.
"""

from __future__ import annotations

from enum import StrEnum


class FinetuneMethod(StrEnum):
    """Fine-tuning methods: all weights (``full``), low-rank adapters on a 16-bit base
    (``lora``) or on an NF4-quantised base (``qlora``)."""

    FULL = "full"
    LORA = "lora"
    QLORA = "qlora"
