"""Catalogs of GPUs, models, engines and precisions (data files, validated on load)."""

from llmplan._callable import make_callable

make_callable(__name__)  # llmplan.catalog(...) is the public function of that name
