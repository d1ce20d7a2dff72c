"""Alembic migrations of the store, applied by :func:`llmplan.store.engine.upgrade`.

To change the schema: edit ``llmplan/store/models.py``, add ``versions/NNNN_what.py``
(next number; ``down_revision`` = the previous file's ``revision``) with ``upgrade`` and
``downgrade``, and run ``pytest tests/test_store.py``: it migrates an empty database and
fails if the migrated schema differs from the models.
"""
