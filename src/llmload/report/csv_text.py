"""A DataFrame as CSV text, byte for byte what `frame.to_csv(path, index=False, float_format="%.6f")` writes,
built column-wise with pyarrow's string kernels (pandas formats each float cell with one Python call:
~45 s for requests.csv at a million rows; this takes a few seconds).

Floats: "%.6f" is the exact binary value rounded half-even to 6 decimals. Here round(x * 1e6) is computed
in float64; where that product could land on the other side of a .5 (within a few ulp of it), or the value
is too large for int64 cents-of-micro arithmetic, or not finite, the cell is formatted by Python's "%.6f"
itself. Missing values are empty; text is quoted as the csv module does (QUOTE_MINIMAL).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FLOAT_FORMAT = "%.6f"
ROWS_PER_WRITE = 100_000  # bounds the memory of the text being written


def _quote_triggers() -> str:
    """The characters that make the csv module (pandas' writer) quote a field, as a regex class: the
    delimiter, the quote and "\n"; "\r" too where this Python's csv module quotes it."""
    probe = io.StringIO()
    csv.writer(probe, lineterminator="\n").writerow(["\r", "x"])
    return '[,"\n\r]' if probe.getvalue().startswith('"') else '[,"\n]'


_NEEDS_QUOTES = _quote_triggers()
_MAX_EXACT = 2.0**52


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(",".join(_quoted_header(str(c)) for c in frame.columns) + "\n")
        for start in range(0, len(frame), ROWS_PER_WRITE):
            part = frame.iloc[start : start + ROWS_PER_WRITE]
            cells = [column_text(part[name]) for name in part.columns]
            if len(cells) == 1:  # the csv module quotes a row that is one empty field
                cells[0] = pc.if_else(pc.equal(cells[0], ""), '""', cells[0])
            lines = pc.binary_join_element_wise(*cells, ",")
            f.write("\n".join(lines.to_pylist()) + "\n")


def _quoted_header(name: str) -> str:
    return '"' + name.replace('"', '""') + '"' if re.search(_NEEDS_QUOTES, name) else name


def column_text(series: pd.Series) -> pa.Array:
    """One column's cells as to_csv writes them (no nulls: missing is the empty string)."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) and not series.hasnans:
        return pc.if_else(pa.array(series.to_numpy(dtype=bool)), "True", "False")
    if pd.api.types.is_float_dtype(dtype):
        return float_text(series.to_numpy(dtype=float))
    if pd.api.types.is_integer_dtype(dtype):
        values = pa.array(series.astype(object).where(series.notna(), None).tolist(), pa.int64())
        return pc.fill_null(pc.cast(values, pa.string()), "")
    return _text(series)


def _text(series: pd.Series) -> pa.Array:
    values: list[Any] = series.astype(object).where(series.notna(), None).tolist()
    try:
        text = pa.array(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        text = pa.array([None if v is None else str(v) for v in values], pa.string())
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.fill_null(pc.if_else(pc.match_substring_regex(text, _NEEDS_QUOTES), quoted, text), "")


def float_text(values: np.ndarray) -> pa.Array:
    """"%.6f" of each value, "" for NaN (see the module docstring for exactness)."""
    finite = np.isfinite(values)
    scaled = np.where(finite, values, 0.0) * 1e6
    fraction = np.abs(scaled - np.trunc(scaled))
    python = ~finite | (np.abs(scaled) >= _MAX_EXACT) | (np.abs(fraction - 0.5) <= 4 * np.spacing(scaled))
    python &= ~np.isnan(values)
    micros = np.abs(np.rint(np.where(python, 0.0, scaled))).astype(np.int64)
    sign = pc.if_else(pa.array(np.signbit(values)), "-", "")
    whole = pc.cast(pa.array(micros // 1_000_000), pa.string())
    decimals = pc.utf8_lpad(pc.cast(pa.array(micros % 1_000_000), pa.string()), 6, "0")
    text = pc.binary_join_element_wise(sign, whole, ".", decimals, "")
    text = pc.if_else(pa.array(np.isnan(values)), "", text)
    if python.any():
        exact = pa.array([FLOAT_FORMAT % v for v in values[python].tolist()], pa.string())
        text = pc.replace_with_mask(text, pa.array(python), exact)
    return text
