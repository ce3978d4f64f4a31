"""JSON helpers: NaN and infinite numbers become null, never the NaN that strict parsers
refuse."""

import json

import numpy as np

from lite_hrnet.formats.json_files import json_numbers


def test_non_finite_numbers_become_null() -> None:
    values = np.array([[1.234, np.nan], [np.inf, -2.0]], np.float32)
    assert json_numbers(values, 1) == [[1.2, None], [None, -2.0]]
    json.dumps(json_numbers(values, 1), allow_nan=False)
