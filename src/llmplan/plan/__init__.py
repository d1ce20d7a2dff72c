"""Planning: the design search, options, costs, sensitivity and the plan payload."""

from llmplan._callable import make_callable

make_callable(__name__)  # llmplan.plan(...) is the public function of that name
