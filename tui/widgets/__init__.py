"""The console's widgets, one module per feature."""

from ._charts import Series, merge_equal_bins

__all__ = ["Series", "merge_equal_bins"]
