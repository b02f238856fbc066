"""Series and consumption over GraphQL equal an independent computation in Python, through
rollups and raw edges, with resets, gaps, late out-of-order batches and a DST change."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from koprogo_graph.domain.consumption import baseline_after, step
from koprogo_graph.store import readings as readings_store
from koprogo_graph.store import sensors as sensors_store
from koprogo_graph.store.db import open_database

from .conftest import error_codes

BRUSSELS = ZoneInfo("Europe/Brussels")
START = datetime(2026, 3, 27, 20, 0, tzinfo=UTC)  # spans the 2026-03-29 DST change
SERIES = """query($id: ID!, $from: DateTime!, $to: DateTime!, $bucket: TimeBucket!, $tz: String!, $fill: FillMode!) {
  readingSeries(sensorId: $id, from: $from, to: $to, bucket: $bucket, timezone: $tz, fill: $fill) {
    bucketStart count sum min max avg consumption } }"""
BUILDING = """query($b: ID!, $from: DateTime!, $to: DateTime!, $bucket: TimeBucket!) {
  buildingConsumption(buildingId: $b, sensorType: COLD_WATER, from: $from, to: $to, bucket: $bucket) {
    bucketStart consumption sensorCount bySensor { sensorId consumption } } }"""


def local_start(ts: datetime, bucket: str, tz: ZoneInfo) -> datetime:
    """Independent of the code under test: calendar arithmetic on local wall time."""
    local = ts.astimezone(tz)
    if bucket == "DAY":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    elif bucket == "HOUR":
        start = local.replace(minute=0, second=0, microsecond=0)
    elif bucket == "FIFTEEN_MINUTES":
        start = local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)
    else:
        raise AssertionError(bucket)
    return datetime(
        start.year, start.month, start.day, start.hour, start.minute, tzinfo=tz
    ).astimezone(UTC)


def expected(points: list[tuple[datetime, float]], lo: datetime, hi: datetime, bucket: str) -> dict:
    points = sorted(points)
    baseline = baseline_after(v for ts, v in points if ts < lo)  # the Python reference rule
    out: dict[datetime, dict] = {}
    for ts, value in points:
        if not lo <= ts < hi:
            continue
        b = out.setdefault(
            local_start(ts, bucket, BRUSSELS),
            {"count": 0, "sum": 0.0, "min": value, "max": value, "consumption": None},
        )
        b["count"] += 1
        b["sum"] += value
        b["min"], b["max"] = min(b["min"], value), max(b["max"], value)
        _, used, baseline = step(baseline, value)
        if used is not None:
            b["consumption"] = (b["consumption"] or 0.0) + used
    return out


@pytest.fixture(scope="module")
async def meter(database_url):
    """A water meter with 3 days of readings: gaps, a reset, and late batches out of order."""
    rng = random.Random(42)
    org, building = uuid.uuid4(), uuid.uuid4()
    points, ts, value = [], START, 1000.0
    while ts < START + timedelta(days=3):
        ts += timedelta(minutes=rng.randint(3, 11))
        if START + timedelta(hours=30) < ts < START + timedelta(hours=35):
            continue  # a 5-hour gap
        value = (
            rng.uniform(0, 2)  # rare reset
            if rng.random() < 0.004
            else value * (1 - rng.uniform(0, 0.1))  # rare glitch
            if rng.random() < 0.01
            else value + rng.uniform(0, 0.05)
        )
        points.append((ts, round(value, 6)))
    async with open_database(database_url, pool_size=2) as db:
        async with db.tenant(org) as con:
            sensor, other = await sensors_store.insert_many(
                con,
                org,
                [
                    {
                        "building_id": building,
                        "device_id": device,
                        "type": "COLD_WATER",
                        "reading_kind": "CUMULATIVE",
                        "manufacturer": "Kamstrup",
                        "model": "M21",
                        "location": "Cave",
                        "unit_of_measure": "m3",
                        "sampling_interval": 300,
                    }
                    for device in ("AGG-1", "AGG-2")
                ],
            )
        batches = [points[i : i + 40] for i in range(0, len(points), 40)]
        rng.shuffle(batches)  # late and out-of-order batches
        async with db.system() as con:
            for sid, factor in ((sensor.id, 1.0), (other.id, 2.0)):
                for batch in batches:
                    await readings_store.insert_batch(
                        con,
                        [
                            readings_store.ReadingRow(
                                sid,
                                ts,
                                org,
                                building,
                                None,
                                v * factor,
                                v * factor,
                                None,
                                None,
                                "GOOD",
                                False,
                                None,
                            )
                            for ts, v in batch
                        ],
                    )
    return {
        "org": org,
        "building": building,
        "id": str(sensor.id),
        "other": str(other.id),
        "points": points,
    }


def close(a: float | None, b: float | None) -> bool:
    """The API's number is the reference at the meter's resolution (3 decimal places for m3):
    within half a thousandth, and written with at most 3 decimals."""
    return (a is None and b is None) or (
        a is not None
        and b is not None
        and abs(a - b) <= 0.0005 + 1e-9 * abs(b)
        and a == round(a, 3)
    )


@pytest.mark.parametrize("bucket", ["DAY", "HOUR", "FIFTEEN_MINUTES"])
async def test_series_equal_an_independent_computation(graphql, token, meter, bucket):
    lo, hi = START + timedelta(hours=3, minutes=17), START + timedelta(days=2, hours=22, minutes=41)
    body = await graphql(
        SERIES,
        {
            "id": meter["id"],
            "from": lo.isoformat(),
            "to": hi.isoformat(),
            "bucket": bucket,
            "tz": "Europe/Brussels",
            "fill": "NONE",
        },
        token(meter["org"]),
    )
    assert "errors" not in body, body
    got = {datetime.fromisoformat(b["bucketStart"]): b for b in body["data"]["readingSeries"]}
    want = expected(meter["points"], lo, hi, bucket)
    assert sorted(got) == sorted(want)
    for start, w in want.items():
        g = got[start]
        assert g["count"] == w["count"], start
        assert close(g["sum"], w["sum"]) and close(g["min"], w["min"]) and close(g["max"], w["max"])
        assert close(g["consumption"], w["consumption"]), (start, g, w)
    if bucket == "DAY":
        days = sorted(got)
        assert timedelta(hours=23) in {b - a for a, b in pairwise(days)}


async def test_building_consumption_sums_its_sensors(graphql, token, meter):
    lo, hi = START, START + timedelta(days=3)
    body = await graphql(
        BUILDING,
        {
            "b": str(meter["building"]),
            "from": lo.isoformat(),
            "to": hi.isoformat(),
            "bucket": "DAY",
        },
        token(meter["org"]),
    )
    assert "errors" not in body, body
    want = expected(meter["points"], lo, hi, "DAY")
    for b in body["data"]["buildingConsumption"]:
        start = datetime.fromisoformat(b["bucketStart"])
        single = want[start]["consumption"] or 0.0
        assert b["sensorCount"] == 2
        assert close(b["consumption"], 3 * single)  # the second meter reads double
    # Without the per-sensor breakdown the building rollups answer: the same totals.
    totals_only = BUILDING.replace(" bySensor { sensorId consumption }", "")
    body2 = await graphql(
        totals_only,
        {
            "b": str(meter["building"]),
            "from": lo.isoformat(),
            "to": hi.isoformat(),
            "bucket": "DAY",
        },
        token(meter["org"]),
    )
    assert [
        (b["bucketStart"], round(b["consumption"], 6)) for b in body2["data"]["buildingConsumption"]
    ] == [
        (b["bucketStart"], round(b["consumption"], 6)) for b in body["data"]["buildingConsumption"]
    ]
    other_org = await graphql(
        BUILDING,
        {
            "b": str(meter["building"]),
            "from": lo.isoformat(),
            "to": hi.isoformat(),
            "bucket": "DAY",
        },
        token(uuid.uuid4()),
    )
    assert other_org["data"]["buildingConsumption"] == []


async def test_gap_filling_fills_the_gap(graphql, token, meter):
    lo, hi = START + timedelta(hours=29), START + timedelta(hours=37)
    body = await graphql(
        SERIES,
        {
            "id": meter["id"],
            "from": lo.isoformat(),
            "to": hi.isoformat(),
            "bucket": "HOUR",
            "tz": "Europe/Brussels",
            "fill": "LINEAR",
        },
        token(meter["org"]),
    )
    rows = body["data"]["readingSeries"]
    assert len(rows) == 8
    empty = [r for r in rows if r["count"] == 0]
    assert empty and all(r["avg"] is not None for r in empty)


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"tz": "Mars/Olympus"}, "timezone"),
        ({"bucket": "FIVE_MINUTES", "to": "2027-03-27T00:00:00+00:00"}, "bucket"),
        ({"from": "2026-03-30T00:00:00+00:00", "to": "2026-03-29T00:00:00+00:00"}, "from"),
        ({"bucket": "FORTNIGHT"}, "bucket"),
    ],
)
async def test_bad_requests_name_the_field(graphql, token, meter, variables, field):
    base = {
        "id": meter["id"],
        "from": START.isoformat(),
        "to": (START + timedelta(days=1)).isoformat(),
        "bucket": "HOUR",
        "tz": "Europe/Brussels",
        "fill": "NONE",
    }
    body = await graphql(SERIES, {**base, **variables}, token(meter["org"]))
    assert (
        error_codes(body) == ["BAD_USER_INPUT"]
        and body["errors"][0]["extensions"]["field"] == field
    )


async def test_cross_validation_against_manual_readings(graphql, token, meter):
    points = meter["points"]
    first, last = points[10], points[300]
    record = """mutation($input: ManualReadingInput!) { recordManualReading(input: $input) { id value } }"""
    for ts, value, factor in ((first[0], first[1], 1.0), (last[0], last[1], 1.03)):
        body = await graphql(
            record,
            {
                "input": {
                    "sensorId": meter["id"],
                    "readAt": ts.isoformat(),
                    "value": value * factor if factor != 1.0 else value,
                }
            },
            token(meter["org"]),
        )
        assert "errors" not in body, body
    body = await graphql(
        """query($id: ID!, $from: DateTime!, $to: DateTime!) {
        crossValidation(sensorId: $id, from: $from, to: $to) {
          manualConsumption iotConsumption deviationPercent withinTolerance } }""",
        {
            "id": meter["id"],
            "from": START.isoformat(),
            "to": (START + timedelta(days=3)).isoformat(),
        },
        token(meter["org"]),
    )
    cv = body["data"]["crossValidation"]
    window = [p for p in points if first[0] < p[0] <= last[0]]
    prev, iot = first[1], 0.0
    for _, v in window:
        iot += v if v < prev else v - prev
        prev = v
    assert close(cv["iotConsumption"], iot)
    assert close(cv["manualConsumption"], last[1] * 1.03 - first[1])
    assert cv["withinTolerance"] is (abs(cv["deviationPercent"]) <= 5)


CHART = """query($id: ID!, $from: DateTime!, $to: DateTime!, $bucket: TimeBucket!, $tz: String!) {
  readingSeriesChart(sensorId: $id, from: $from, to: $to, bucket: $bucket, timezone: $tz) {
    unitOfMeasure columns
  }
}"""


@pytest.mark.parametrize("bucket", ["DAY", "HOUR"])
async def test_the_chart_columns_are_the_independent_computation_too(graphql, token, meter, bucket):
    lo, hi = START + timedelta(hours=3, minutes=17), START + timedelta(days=2, hours=22, minutes=41)
    variables = {
        "id": meter["id"],
        "from": lo.isoformat(),
        "to": hi.isoformat(),
        "bucket": bucket,
        "tz": "Europe/Brussels",
    }
    body = await graphql(CHART, variables, token(meter["org"]))
    assert "errors" not in body, body
    chart = body["data"]["readingSeriesChart"]
    assert chart["unitOfMeasure"] == "m3"
    columns = chart["columns"]
    want = expected(meter["points"], lo, hi, bucket)
    starts = [datetime.fromtimestamp(t, UTC) for t in columns["time"]]
    assert starts == sorted(want)
    for i, start in enumerate(starts):
        w = want[start]
        assert columns["count"][i] == w["count"]
        assert close(columns["sum"][i], w["sum"]) and close(columns["max"][i], w["max"])
        assert close(columns["consumption"][i], w["consumption"]), (start, w)
    # Another organization's sensor is nobody's: null, never its data.
    foreign = await graphql(CHART, variables, token(uuid.uuid4()))
    assert foreign == {"data": {"readingSeriesChart": None}}


async def test_the_chart_refuses_what_the_series_refuses(graphql, token, meter):
    base = {
        "id": meter["id"],
        "from": START.isoformat(),
        "to": (START + timedelta(days=1)).isoformat(),
        "bucket": "DAY",
        "tz": "Europe/Brussels",
    }
    for change, field in [
        ({"id": "not-an-id"}, "sensorId"),
        ({"to": (START - timedelta(days=1)).isoformat()}, "from"),
        ({"tz": "Mars/Olympus"}, "timezone"),
        ({"bucket": "FIVE_MINUTES", "to": (START + timedelta(days=3650)).isoformat()}, "bucket"),
    ]:
        body = await graphql(CHART, {**base, **change}, token(meter["org"]))
        assert error_codes(body) == ["BAD_USER_INPUT"], (change, body)
        assert body["errors"][0]["extensions"]["field"] == field
