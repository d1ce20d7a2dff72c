"""Domain types the scenario schema and the models share, below every model package.

A scenario names its finance and capacity assumptions, the currency it is reported in and
the fine-tuning method of a workload; the cost, sizing and plan packages compute with the
same objects. They live here, not in the packages that compute with them, so that the
scenario schema (and anything else in the lowest layer) can hold them without importing a
model package (issue 14, item 3; the import contracts in ``pyproject.toml`` keep it so):

- :mod:`llmplan.domain.finance`: :class:`~llmplan.domain.finance.FinanceAssumptions`
  (horizon, money, energy, site, ownership and staff assumptions);
- :mod:`llmplan.domain.capacity`: :class:`~llmplan.domain.capacity.CapacityAssumptions`
  (how capacity is added over time and bought);
- :mod:`llmplan.domain.currency`: :class:`~llmplan.domain.currency.Currency`, the bundled
  exchange-rate table and :class:`~llmplan.domain.currency.Money`;
- :mod:`llmplan.domain.finetune`: :class:`~llmplan.domain.finetune.FinetuneMethod`.

These modules import nothing from llmplan but :mod:`llmplan.errors`, and nothing heavier
than pydantic and PyYAML. Counting a model's parameters is a function of the catalog's
model fields, so it lives with them (:mod:`llmplan.catalog.params`).
"""
