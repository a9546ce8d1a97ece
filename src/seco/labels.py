"""The two special label values shared by data, method, engine and reports.

* ``IGNORE_INDEX`` (255): a pixel no loss or metric looks at (VOC's border
  value, also outside the crop box and where pseudo labels disagree);
* ``UNCERTAIN`` (-1): a tag-mask pixel, patch or key excluded from contrast
  (paper Sec. 3.3, t_i = -1).
"""

from __future__ import annotations

__all__ = ["IGNORE_INDEX", "UNCERTAIN"]

IGNORE_INDEX = 255
UNCERTAIN = -1
