"""The console's widgets, one module per feature."""

from ..format import merge_equal_bins
from ._charts import Series

__all__ = ["Series", "merge_equal_bins"]
