"""CSV / Parquet export of journal rows with exact values.

Money is exported exactly: CSV cells are the Decimal's own text (``0.1`` stays ``0.1``), Parquet
columns are ``decimal128`` with the scale the data needs (falling back to the exact text when a
value needs more than 38 digits). Times are ISO-8601 UTC; JSON columns are JSON text.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.engine import Engine

from bot.review import service
from bot.review.outfile import OutputPolicy
from bot.review.queries import ReviewFilter

EXPORT_TABLES: tuple[str, ...] = ("trades", "orders", "fills", "funding", "equity", "signals")
EXPORT_FORMATS: tuple[str, ...] = ("csv", "parquet")


def export_table(engine: Engine, what: str, fmt: str, out: Path, flt: ReviewFilter = ReviewFilter(),
                 policy: OutputPolicy = OutputPolicy()) -> int:
    """Write ``what`` rows to ``out`` as ``fmt``; returns the number of rows written.

    ``out`` is written under ``policy`` (:mod:`bot.review.outfile`): never over the journal,
    over an existing file only with ``force``, atomically. The default policy protects nothing
    but still refuses existing files; the CLI passes :meth:`OutputPolicy.for_journal`."""
    if what not in EXPORT_TABLES:
        raise ValueError(f"cannot export {what!r}: choose one of {', '.join(EXPORT_TABLES)}")
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose csv or parquet")
    df = service.table(engine, what, flt)
    df = _json_columns(df)
    policy.check(out)  # refuse before the table is converted, not after
    if fmt == "csv":
        policy.write(out, lambda tmp: df.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ"))
    else:
        table = _arrow_table(df)
        policy.write(out, lambda tmp: pq.write_table(table, tmp))
    return len(df)


def _json_columns(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object and out[col].map(lambda v: isinstance(v, dict | list)).any():
            out[col] = out[col].map(lambda v: None if v is None else json.dumps(v, default=str, sort_keys=True))
    return out


def _arrow_table(df: pd.DataFrame) -> pa.Table:
    arrays: dict[str, Any] = {}
    for col in df.columns:
        values = df[col]
        if values.dtype == object and values.map(lambda v: isinstance(v, Decimal)).any():
            # NULLs can arrive as NaN after a merge; anything not a Decimal is missing
            arrays[col] = _decimal_array([v if isinstance(v, Decimal) else None for v in values.tolist()])
        else:
            arrays[col] = pa.array(values, from_pandas=True)
    return pa.table(arrays)


def _decimal_array(values: list[Decimal | None]) -> pa.Array:
    """decimal128 wide enough for every value; exact text when no decimal128 can hold them."""
    present = [v for v in values if v is not None]
    scale = max((max(0, -v.as_tuple().exponent) for v in present), default=0)  # type: ignore[operator]
    integer_digits = max((len(str(abs(int(v)))) for v in present), default=1)
    precision = integer_digits + scale
    if precision <= 38:
        quant = Decimal(1).scaleb(-scale)
        return pa.array([None if v is None else v.quantize(quant) for v in values],
                        type=pa.decimal128(max(precision, 1), scale))
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())
