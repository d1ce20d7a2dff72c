"""Performance models: roofline step times, serving loads, intervals."""

from llmplan._callable import make_callable

make_callable(__name__)  # llmplan.perf(...) is the public function of that name
