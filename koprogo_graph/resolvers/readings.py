"""Stored readings and the ingestor's rejections, as the viewer's organization may see them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from ..domain.payload import RejectReason
from ..domain.sensors import resolution_of
from ..errors import BadUserInput
from ..schema.context import Context
from ..schema.pagination import Connection, decode_cursor, encode_cursor, page_info, page_size
from ..schema.readings import Reading, RejectedMessage
from ..store import readings as store
from ..store import rejections as rejections_store
from ..store import sensors as sensors_store
from ._args import parse_id

__all__ = ["ReadingQuery"]

Info = strawberry.Info[Context, None]


def check_range(start: datetime, end: datetime) -> None:
    """BAD_USER_INPUT unless ``from`` < ``to``, both with a time zone."""
    for field, value in (("from", start), ("to", end)):
        if value.tzinfo is None:
            raise BadUserInput(field, "needs a time zone offset")
    if start >= end:
        raise BadUserInput("from", "must be before 'to'")


_EMPTY: Connection[Reading] = Connection(
    total_count=0, edges=[], page_info=page_info(0, 0, [], None)
)


@strawberry.type
class ReadingQuery:
    @strawberry.field(description="A sensor's readings in [from, to), oldest first.")
    async def readings(
        self,
        info: Info,
        sensor_id: Annotated[strawberry.ID, strawberry.argument(description="The sensor's id.")],
        from_: Annotated[
            datetime,
            strawberry.argument(name="from", description="Start of the period (included)."),
        ],
        to: Annotated[datetime, strawberry.argument(description="End of the period (excluded).")],
        first: Annotated[int, strawberry.argument(description="Page size (at most 500).")] = 100,
        after: Annotated[
            str | None,
            strawberry.argument(description="Cursor of the reading after which the page starts."),
        ] = None,
    ) -> Connection[Reading]:
        org = info.context.viewer.org()
        sid = parse_id(sensor_id, "sensorId")
        check_range(from_, to)
        limit = page_size(first, info.context.settings.max_page_size)
        cursor = None
        if after is not None:
            (raw,) = decode_cursor(after, 1)
            try:
                cursor = datetime.fromisoformat(raw)
            except ValueError:
                raise BadUserInput("after", "is not a cursor returned by this API") from None
        async with info.context.tenant(org) as con:
            sensor = await sensors_store.get(con, org, sid)
            if sensor is None:
                return _EMPTY
            total = await store.count_range(con, org, sid, from_, to)
            rows = await store.page(con, org, sid, from_, to, limit=limit + 1, after=cursor)
        unit = sensor.unit_of_measure
        decimals = resolution_of(unit, sensor.resolution)
        return Connection.of(
            rows,
            limit=limit,
            total=total,
            after=after,
            cursor=lambda r: encode_cursor(r.ts.isoformat()),
            node=lambda r: Reading.from_row(r, unit, decimals),
        )

    @strawberry.field(
        description="What the ingestor refused on your organization's topics, newest first."
    )
    async def rejected_messages(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description="How many, newest first (at most 500).")
        ] = 50,
    ) -> list[RejectedMessage]:
        org = info.context.viewer.org()
        limit = page_size(first, info.context.settings.max_page_size)
        async with info.context.tenant(org) as con:
            rows = await rejections_store.latest(con, org, limit)
        return [
            RejectedMessage(
                reason=RejectReason(r.reason),
                topic=r.topic,
                detail=r.detail,
                payload_excerpt=r.payload_excerpt,
                received_at=r.received_at,
            )
            for r in rows
        ]
