"""``GET /exports/statement.xlsx`` and ``.csv`` (SPEC §12): the consumption statement for the
accountant, with the GraphQL argument names as the query string and the same Bearer token.

Both come from ``load_statement``, as the GraphQL field does, so they always agree. The sheet
holds numbers as numbers and dates as dates (in the building's time zone); the CSV is what
Excel in Belgium and France opens right: UTF-8 with a BOM, ``;`` between fields, decimal
comma. Errors are JSON ``{"error", "code", "field"}`` with the HTTP status of their code.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import anyio.to_thread
from openpyxl import Workbook
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..auth import client_key
from ..domain.ratelimit import RateLimiter
from ..domain.sensors import SensorType
from ..domain.statement import CommonAllocation, MeterLine, shown
from ..errors import BadUserInput, KoprogoError, NotFound
from ..resolvers.statement import LoadedStatement, load_statement
from ..schema.context import Context

__all__ = ["StatementExports"]

MAX_QUERY_BYTES = 1_024
PARAMETERS = frozenset(
    {"buildingId", "sensorType", "from", "to", "commonAllocation", "allocationKeyId"}
)
_STATUS = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "BAD_USER_INPUT": 400,
    "RATE_LIMITED": 429,
}
HEADER = (
    "unitId",
    "deviceId",
    "startIndex",
    "endIndex",
    "startEstimated",
    "endEstimated",
    "consumption",
    "commonShare",
    "charged",
)
Row = tuple[Any, ...]


def _rows(loaded: LoadedStatement) -> Iterator[Row]:
    """One row per unit and meter (a unit's share and charge on its first), then the common
    meters and the total: figures as Decimal (exact, at the statement's decimals)."""
    s = loaded.statement

    def meter(label: str, m: MeterLine, used: Decimal, share: Any, charged: Any) -> Row:
        device = loaded.device_ids.get(m.sensor_id, str(m.sensor_id))
        start, end = (shown(i, s.decimals) for i in (m.start_index, m.end_index))
        return (
            label,
            device,
            start,
            end,
            m.start_estimated,
            m.end_estimated,
            used,
            share,
            charged,
        )

    for u in s.units:
        if not u.meters:  # a unit of the key without a meter of this type
            yield (
                str(u.unit_id),
                None,
                None,
                None,
                None,
                None,
                u.consumption,
                u.common_share,
                u.charged,
            )
        for i, (m, used) in enumerate(u.meters):
            first = i == 0
            yield meter(
                str(u.unit_id),
                m,
                used,
                u.common_share if first else None,
                u.charged if first else None,
            )
    for m, used in s.common_meters:
        yield meter("common", m, used, None, None)
    yield ("total", None, None, None, None, None, None, None, s.total)


def _local(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)  # a spreadsheet date has no zone


def _title(loaded: LoadedStatement) -> list[Row]:
    return [
        ("statement", loaded.sensor_type.value, loaded.unit_of_measure),
        ("from", _local(loaded.start, loaded.timezone), loaded.timezone.key),
        ("to", _local(loaded.end, loaded.timezone), loaded.timezone.key),
        (),
        HEADER,
    ]


def xlsx(loaded: LoadedStatement) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"{loaded.sensor_type.value} statement"[:31]
    number_format = (
        "0" if loaded.statement.decimals == 0 else "0." + "0" * loaded.statement.decimals
    )
    for row in _title(loaded):
        sheet.append(row)
    for cell in (sheet["B2"], sheet["B3"]):
        cell.number_format = "yyyy-mm-dd hh:mm"
    for row in _rows(loaded):
        sheet.append([float(v) if isinstance(v, Decimal) else v for v in row])
        for cell in sheet[sheet.max_row][2:4] + sheet[sheet.max_row][6:9]:
            cell.number_format = number_format
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # a device id such as "=HYPERLINK(...)" stays text
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _csv_value(value: Any, decimals: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | float):
        return f"{value:.{decimals}f}".replace(".", ",")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    text = str(value)
    # A cell Excel would read as a formula (a device id is anyone's text): shown as text.
    return "'" + text if text[:1] in _FORMULA_STARTS else text


_FORMULA_STARTS = frozenset("=+-@\t\r")


def csv_text(loaded: LoadedStatement) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    decimals = loaded.statement.decimals
    for row in [*_title(loaded), *_rows(loaded)]:
        writer.writerow([_csv_value(v, decimals) for v in row])
    return "\ufeff" + out.getvalue()


def _error(exc: KoprogoError) -> JSONResponse:
    extensions = exc.extensions or {}
    code = str(extensions.get("code", "INTERNAL"))
    body = {"error": exc.message, "code": code, "field": extensions.get("field")}
    headers = {"Retry-After": "2"} if code == "RATE_LIMITED" else None
    return JSONResponse(body, status_code=_STATUS.get(code, 500), headers=headers)


def _enum(kind: type[StrEnum], value: str | None, field: str) -> Any:
    try:
        return kind(value or "")
    except ValueError:
        raise BadUserInput(field, f"must be one of {', '.join(kind.__members__)}") from None


def _instant(value: str | None, field: str) -> datetime:
    try:
        return datetime.fromisoformat(value or "")
    except ValueError:
        raise BadUserInput(field, "must be an ISO 8601 date-time with an offset") from None


class StatementExports:
    """The two export routes; owned by the app. Each costs a statement's computation: the
    statements' limit per user (shared with GraphQL) and, before the token is read, a token
    bucket per address keep that bounded."""

    def __init__(self, rate: float = 5.0, burst: float = 100.0) -> None:
        self.limiter = RateLimiter(rate, burst, max_keys=100_000)

    async def __call__(self, request: Request) -> Response:
        fmt = "xlsx" if request.url.path.endswith(".xlsx") else "csv"
        client = request.client
        if not self.limiter.allow(client_key(client.host if client else "?"), time.monotonic()):
            return JSONResponse(
                {"error": "too many requests"}, status_code=429, headers={"Retry-After": "2"}
            )
        context = Context(
            request=request,
            db=request.state.db,
            settings=request.state.settings,
            statement_limiter=getattr(request.state, "statement_limiter", None),
        )
        try:
            loaded = await load_statement(context, **self._arguments(request))
        except KoprogoError as exc:
            return _error(exc)
        if loaded is None:
            return _error(NotFound("Building", field="buildingId"))
        name = f"statement-{loaded.sensor_type.value.lower()}-{loaded.start.date()}"
        if fmt == "xlsx":
            body = await anyio.to_thread.run_sync(xlsx, loaded)
            media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            body = csv_text(loaded).encode("utf-8")
            media = "text/csv; charset=utf-8"
        return Response(
            body,
            media_type=media,
            headers={
                "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
                "Cache-Control": "no-store",  # what each unit owes
                "X-Content-Type-Options": "nosniff",
            },
        )

    @staticmethod
    def _arguments(request: Request) -> dict[str, Any]:
        if len(request.url.query.encode()) > MAX_QUERY_BYTES:
            raise BadUserInput("query", f"the query string is longer than {MAX_QUERY_BYTES} bytes")
        params = request.query_params
        unknown = sorted(set(params) - PARAMETERS)
        if unknown:
            raise BadUserInput(
                unknown[0], f"is not a parameter (they are {', '.join(sorted(PARAMETERS))})"
            )
        for name in PARAMETERS:
            if len(params.getlist(name)) > 1:
                raise BadUserInput(name, "is given more than once")
        for name in ("buildingId", "sensorType", "from", "to"):
            if name not in params:
                raise BadUserInput(name, "is required")
        return {
            "building_id": params["buildingId"],
            "sensor_type": _enum(SensorType, params["sensorType"], "sensorType"),
            "start": _instant(params["from"], "from"),
            "end": _instant(params["to"], "to"),
            "common_allocation": _enum(
                CommonAllocation,
                params.get("commonAllocation", CommonAllocation.BY_CONSUMPTION.value),
                "commonAllocation",
            ),
            "allocation_key_id": params.get("allocationKeyId"),
        }
