"""Let Evidently 0.7.23 import beside pandas 3 (call ``allow_import()`` before importing it).

Every Evidently 0.7.x release, 0.7.23 (the latest) included, fails at ``import evidently``
with pandas 3: ``evidently/legacy/tests/data_integrity_tests.py`` (line 11) does
``from pandas.core.dtypes.common import infer_dtype_from_object``, a private pandas helper
that pandas 3 removed, and the package's ``__init__`` imports that module on the way.
Evidently calls the function only in that legacy module's column-type test
(``TestColumnsType``), which carprice never runs: drift.py uses the new Report API.

So the missing name is defined as a function that raises if it is ever called; a pandas
that still has the name is left alone. Drop this module when an Evidently release stops
importing the name (the pin is in pyproject.toml, extra ``monitor``).
"""

from __future__ import annotations

import pandas.core.dtypes.common as _pandas_common

_NAME = "infer_dtype_from_object"


def _removed_in_pandas_3(dtype):
    raise NotImplementedError(
        f"pandas.core.dtypes.common.{_NAME} was removed in pandas 3; carprice defines it "
        "only so that Evidently imports, and nothing it runs may call it (Evidently's "
        "legacy TestColumnsType does)")


def allow_import() -> None:
    """Define the name Evidently imports if this pandas lacks it (idempotent)."""
    if not hasattr(_pandas_common, _NAME):
        setattr(_pandas_common, _NAME, _removed_in_pandas_3)
