"""Billing statements (SPEC §12, issue 14) against an independent computation.

A generated year for a building of 12 units, each with a hot and a cold water meter, a common
cold water meter and a common heating meter; a reset, a glitch, readings missing around the
start, a reading exactly on the end, a manual reading on the start, and the year in local time
(Europe/Brussels: it starts at 23:00 UTC). The reference below walks every meter's readings
itself (the consumption rule from SPEC §10, written again here) and rounds as SPEC §12 says;
every unit's consumption, share and charge must equal it to the last decimal, and add up.
"""

from __future__ import annotations

import io
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import asyncpg
import openpyxl
import pytest

from .conftest import create_sensor, error_codes

BRUSSELS = ZoneInfo("Europe/Brussels")
START = datetime(2025, 1, 1, tzinfo=BRUSSELS).astimezone(UTC)  # 2024-12-31T23:00Z
END = datetime(2026, 1, 1, tzinfo=BRUSSELS).astimezone(UTC)  # 2025-12-31T23:00Z
STEP = timedelta(hours=6)
UNITS = 12
Q = Decimal("0.001")  # m3 and kWh are shown at 3 decimals

STATEMENT = """query($b: ID!, $t: SensorType!, $from: DateTime!, $to: DateTime!,
                     $how: CommonAllocation!, $key: ID) {
  consumptionStatement(buildingId: $b, sensorType: $t, from: $from, to: $to,
                       commonAllocation: $how, allocationKeyId: $key) {
    from to total unitOfMeasure
    units { unitId consumption commonShare charged
            meters { sensor { id deviceId } startIndex endIndex startEstimated endEstimated
                     consumption } }
    commonMeters { sensor { id } consumption }
  }
}"""
DEFINE_KEY = (
    """mutation($input: AllocationKeyInput!) { defineAllocationKey(input: $input) { id } }"""
)


# --- The reference: the rule and the rounding, written again from SPEC §10 and §12. ---------


def rule(baseline: float | None, value: float) -> tuple[float, float | None]:
    """(counted, next baseline)."""
    if baseline is None:
        return 0.0, value
    if value >= baseline:
        return value - baseline, value
    if baseline - value > 0.1 * baseline:
        return value, value  # a reset: the new index counts from zero
    return 0.0, baseline  # a glitch: nothing, and the baseline stays


@dataclass
class Meter:
    id: str
    device_id: str
    unit: str | None
    readings: list[tuple[datetime, float]] = field(default_factory=list)
    manual: dict[datetime, float] = field(default_factory=dict)

    def index_at(self, at: datetime) -> tuple[float, bool]:
        baseline = None
        for ts, value in self.readings:  # a reading there: the index as the rule holds it
            baseline = rule(baseline, value)[1]
            if ts == at:
                return baseline, False
        if at in self.manual:
            return self.manual[at], False
        baseline, before = None, None
        for ts, value in self.readings:
            if ts > at:
                if value < baseline:
                    return baseline, True
                t0 = before
                return baseline + (value - baseline) * ((at - t0) / (ts - t0)), True
            baseline = rule(baseline, value)[1]
            before = ts
        raise AssertionError("no reading after")

    def consumption(self, start: datetime, end: datetime) -> float:
        s, _ = self.index_at(start)
        e, _ = self.index_at(end)
        baseline, total = s, 0.0
        for value in [v for ts, v in self.readings if start < ts < end] + [e]:
            counted, baseline = rule(baseline, value)
            total += counted
        return total


def shown(x: float) -> Decimal:
    return Decimal(repr(x)).quantize(Q, rounding=ROUND_HALF_UP)


def split(amount: Decimal, weights: dict[str, Decimal]) -> dict[str, Decimal]:
    total = sum(weights.values())
    exact = {u: amount * w / total for u, w in weights.items()}
    parts = {u: v.quantize(Q, rounding=ROUND_FLOOR) for u, v in exact.items()}
    left = int((amount - sum(parts.values())) / Q)
    for u in sorted(exact, key=lambda u: (-(exact[u] - parts[u]), uuid.UUID(u)))[:left]:
        parts[u] += Q
    return parts


def expected(meters: list[Meter], weights: dict[str, Decimal] | None) -> dict:
    """{total, units: {unit: (consumption, share, charged, {meter: consumption})}}."""
    per_meter = {m.id: shown(m.consumption(START, END)) for m in meters}
    units: dict[str, dict[str, Decimal]] = {}
    for m in meters:
        if m.unit is not None:
            units.setdefault(m.unit, {})[m.id] = per_meter[m.id]
    for unit in weights or {}:
        units.setdefault(unit, {})
    used = {u: sum(ms.values(), Decimal(0)) for u, ms in units.items()}
    common = sum((per_meter[m.id] for m in meters if m.unit is None), Decimal(0))
    shares = split(common, weights or used) if common else dict.fromkeys(units, Decimal(0))
    return {
        "total": sum(used.values(), Decimal(0)) + common,
        "units": {u: (used[u], shares[u], used[u] + shares[u], units[u]) for u in units},
        "common": {m.id: per_meter[m.id] for m in meters if m.unit is None},
    }


def as_decimal(x: float) -> Decimal:
    return Decimal(repr(x)).quantize(Q)


# --- The generated building. -----------------------------------------------------------------


@dataclass
class Building:
    org: uuid.UUID
    id: str
    units: list[str]
    meters: dict[str, list[Meter]]  # by sensor type


async def _insert(dsn: str, org: uuid.UUID, building: str, meters: list[Meter]) -> None:
    con = await asyncpg.connect(dsn)
    try:
        rows = [
            (uuid.UUID(m.id), ts, org, uuid.UUID(building), m.unit and uuid.UUID(m.unit), v, v)
            for m in meters
            for ts, v in m.readings
        ]
        await con.execute(
            """INSERT INTO readings (sensor_id, ts, organization_id, building_id, unit_id, value,
                                     raw_value, quality)
               SELECT s, t, o, b, u, v, r, 'GOOD' FROM unnest($1::uuid[], $2::timestamptz[],
                   $3::uuid[], $4::uuid[], $5::uuid[], $6::float8[], $7::float8[]) AS x(s, t, o, b, u, v, r)""",
            *zip(*rows, strict=True),
        )
        for m in meters:
            for at, value in m.manual.items():
                await con.execute(
                    "INSERT INTO manual_readings (organization_id, sensor_id, read_at, value) "
                    "VALUES ($1, $2, $3, $4)",
                    org,
                    uuid.UUID(m.id),
                    at,
                    value,
                )
    finally:
        await con.close()


def _year(rng: random.Random, start_value: float, rate: float) -> list[tuple[datetime, float]]:
    ts, value, out = START - timedelta(days=10, hours=5), start_value, []
    while ts < END + timedelta(days=10):
        out.append((ts, round(value, 4)))
        value += rng.uniform(0, rate)
        ts += STEP
    return out


@pytest.fixture(scope="module")
async def building(graphql, token, database_url) -> Building:
    rng = random.Random(20261202)
    org, building_id = uuid.uuid4(), str(uuid.uuid4())
    bearer = token(org)
    units = sorted(str(uuid.uuid4()) for _ in range(UNITS))
    meters: dict[str, list[Meter]] = {"HOT_WATER": [], "COLD_WATER": [], "HEATING": []}
    layout = [(kind, u) for u in units for kind in ("HOT_WATER", "COLD_WATER")]
    layout += [("COLD_WATER", None), ("HEATING", None)]
    for i, (kind, unit) in enumerate(layout):
        fields = {"buildingId": building_id, "type": kind, "deviceId": f"M-{i:02d}-{kind}"}
        if unit:
            fields["unitId"] = unit
        if kind == "HEATING":  # a heat meter (kWh index), not the type's default power gauge
            fields |= {"readingKind": "CUMULATIVE", "unitOfMeasure": "kWh"}
        sensor = await create_sensor(graphql, bearer, **fields)
        rate = {"HOT_WATER": 0.03, "COLD_WATER": 0.08, "HEATING": 40.0}[kind]
        meter = Meter(
            sensor["id"], fields["deviceId"], unit, _year(rng, rng.uniform(10, 900), rate)
        )
        meters[kind].append(meter)
    hot = meters["HOT_WATER"]
    # A reset in June (a replaced meter starts again near zero), a glitch in March (a dip of
    # 0.5 %, then the index goes on).
    r = hot[0].readings
    cut = next(i for i, (ts, _) in enumerate(r) if ts >= datetime(2025, 6, 10, tzinfo=UTC))
    r[cut:] = [(ts, round(v - r[cut][1] + 0.75, 4)) for ts, v in r[cut:]]
    r = hot[1].readings
    dip = next(i for i, (ts, _) in enumerate(r) if ts >= datetime(2025, 3, 3, tzinfo=UTC))
    r[dip] = (r[dip][0], round(r[dip - 1][1] * 0.995, 4))
    # Readings missing around the start: nothing from Dec 24 to Jan 6 (interpolated over it).
    hot[2].readings = [
        (ts, v)
        for ts, v in hot[2].readings
        if not datetime(2024, 12, 24, tzinfo=UTC) < ts < datetime(2025, 1, 6, tzinfo=UTC)
    ]
    # A reading exactly on the end, a manual reading exactly on the start.
    r = hot[3].readings
    after = next(i for i, (ts, _) in enumerate(r) if ts > END)
    r.insert(after, (END, round((r[after - 1][1] + r[after][1]) / 2, 4)))
    before = next(i for i, (ts, _) in enumerate(hot[4].readings) if ts > START) - 1
    hot[4].manual[START] = round(hot[4].readings[before][1] + 0.0123, 4)
    await _insert(database_url, org, building_id, [m for ms in meters.values() for m in ms])
    return Building(org, building_id, units, meters)


def variables(b: Building, kind: str, how: str = "BY_CONSUMPTION", key: str | None = None) -> dict:
    return {
        "b": b.id,
        "t": kind,
        "from": START.isoformat(),
        "to": END.isoformat(),
        "how": how,
        "key": key,
    }


def check(statement: dict, want: dict, meters: list[Meter]) -> None:
    assert as_decimal(statement["total"]) == want["total"]
    got = {u["unitId"]: u for u in statement["units"]}
    assert set(got) == set(want["units"])
    for unit, (used, share, charged, per_meter) in want["units"].items():
        line = got[unit]
        assert as_decimal(line["consumption"]) == used, unit
        assert as_decimal(line["commonShare"]) == share, unit
        assert as_decimal(line["charged"]) == charged, unit
        assert {
            m["sensor"]["id"]: as_decimal(m["consumption"]) for m in line["meters"]
        } == per_meter
    assert {c["sensor"]["id"]: as_decimal(c["consumption"]) for c in statement["commonMeters"]} == (
        want["common"]
    )
    # Everything adds up to the last decimal.
    assert sum(as_decimal(u["charged"]) for u in statement["units"]) == as_decimal(
        statement["total"]
    )
    by_id = {m.id: m for m in meters}
    for line in statement["units"]:
        for m in line["meters"]:
            s, s_est = by_id[m["sensor"]["id"]].index_at(START)
            e, e_est = by_id[m["sensor"]["id"]].index_at(END)
            assert (m["startEstimated"], m["endEstimated"]) == (s_est, e_est)
            assert as_decimal(m["startIndex"]) == shown(s) and as_decimal(m["endIndex"]) == shown(e)


async def test_hot_water_per_unit_equals_an_independent_computation(graphql, token, building):
    body = await graphql(
        STATEMENT, variables(building, "HOT_WATER"), token(building.org, "accountant")
    )
    assert "errors" not in body, body
    statement = body["data"]["consumptionStatement"]
    assert statement["unitOfMeasure"] == "m³" or statement["unitOfMeasure"]
    check(statement, expected(building.meters["HOT_WATER"], None), building.meters["HOT_WATER"])
    flags = {
        m["sensor"]["deviceId"]: (m["startEstimated"], m["endEstimated"])
        for u in statement["units"]
        for m in u["meters"]
    }
    hot = building.meters["HOT_WATER"]
    assert flags[hot[3].device_id] == (True, False)  # a reading on the end
    assert flags[hot[4].device_id] == (False, True)  # a manual reading on the start
    # The reset counted what the new meter measured, not a negative jump; the glitch nothing.
    reset_line = next(
        m for u in statement["units"] for m in u["meters"] if m["sensor"]["id"] == hot[0].id
    )
    assert 0 < reset_line["consumption"] < 0.03 * 4 * 366


async def test_common_cold_water_is_split_by_consumption(graphql, token, building):
    body = await graphql(STATEMENT, variables(building, "COLD_WATER"), token(building.org))
    assert "errors" not in body, body
    statement = body["data"]["consumptionStatement"]
    want = expected(building.meters["COLD_WATER"], None)
    assert sum(s for _, s, _, _ in want["units"].values()) == sum(want["common"].values()) > 0
    check(statement, want, building.meters["COLD_WATER"])


async def test_common_heating_is_split_by_a_key(graphql, token, building):
    weights = {u: Decimal(100 + 7 * i) for i, u in enumerate(building.units)}
    key = await graphql(
        DEFINE_KEY,
        {
            "input": {
                "buildingId": building.id,
                "name": "Quotités chauffage",
                "shares": [{"unitId": u, "share": float(w)} for u, w in weights.items()],
            }
        },
        token(building.org),
    )
    key_id = key["data"]["defineAllocationKey"]["id"]
    body = await graphql(
        STATEMENT, variables(building, "HEATING", "BY_KEY", key_id), token(building.org)
    )
    assert "errors" not in body, body
    statement = body["data"]["consumptionStatement"]
    check(statement, expected(building.meters["HEATING"], weights), building.meters["HEATING"])
    assert all(u["meters"] == [] and u["consumption"] == 0 for u in statement["units"])
    # By consumption, the units consumed no heating of their own: nothing to split it by.
    body = await graphql(STATEMENT, variables(building, "HEATING"), token(building.org))
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "commonAllocation"


async def test_a_key_that_misses_a_unit_is_named(graphql, token, building):
    key = await graphql(
        DEFINE_KEY,
        {
            "input": {
                "buildingId": building.id,
                "name": "Partial",
                "shares": [{"unitId": u, "share": 1} for u in building.units[1:]],
            }
        },
        token(building.org),
    )
    key_id = key["data"]["defineAllocationKey"]["id"]
    body = await graphql(
        STATEMENT, variables(building, "HOT_WATER", "BY_KEY", key_id), token(building.org)
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "allocationKeyId"
    assert building.units[0] in body["errors"][0]["message"]


async def test_a_meter_without_a_reading_before_the_start_is_named(graphql, token, building):
    early = {**variables(building, "HOT_WATER"), "from": "2024-01-01T00:00:00Z"}
    body = await graphql(STATEMENT, early, token(building.org))
    assert error_codes(body) == ["BAD_USER_INPUT"]
    error = body["errors"][0]
    assert error["extensions"]["field"] == "from"
    assert "meter M-00-HOT_WATER " in error["message"] and "2024-01-01" in error["message"]
    assert "(and 11 more meters)" in error["message"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"b": "nope"}, "buildingId"),
        ({"t": "TEMPERATURE"}, "sensorType"),
        ({"from": "2026-01-01T00:00:00Z"}, "from"),
        ({"to": "2028-06-01T00:00:00Z"}, "to"),
        ({"how": "BY_KEY"}, "allocationKeyId"),
        ({"key": str(uuid.uuid4())}, "allocationKeyId"),
        ({"how": "BY_KEY", "key": "x"}, "allocationKeyId"),
    ],
)
async def test_bad_arguments_are_named(graphql, token, building, changes, field):
    body = await graphql(
        STATEMENT, {**variables(building, "HOT_WATER"), **changes}, token(building.org)
    )
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert body["errors"][0]["extensions"]["field"] == field


async def test_another_organization_gets_nothing(graphql, token, building):
    body = await graphql(STATEMENT, variables(building, "HOT_WATER"), token(uuid.uuid4()))
    assert body == {"data": {"consumptionStatement": None}}
    key = {**variables(building, "HOT_WATER", "BY_KEY", str(uuid.uuid4()))}
    body = await graphql(STATEMENT, key, token(building.org))
    assert error_codes(body) == ["NOT_FOUND"]


# --- Exports. ----------------------------------------------------------------------------------


def query_string(b: Building, kind: str) -> dict:
    return {
        "buildingId": b.id,
        "sensorType": kind,
        "from": START.isoformat(),
        "to": END.isoformat(),
    }


async def test_the_spreadsheet_equals_the_graphql_answer(graphql, http, token, building):
    bearer = token(building.org, "accountant")
    body = await graphql(STATEMENT, variables(building, "COLD_WATER"), bearer)
    statement = body["data"]["consumptionStatement"]
    response = await http.get(
        "/exports/statement.xlsx",
        params=query_string(building, "COLD_WATER"),
        headers={"Authorization": f"Bearer {bearer}"},
    )
    assert response.status_code == 200, response.text
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][1] == datetime(2025, 1, 1) and rows[2][1] == datetime(2026, 1, 1)
    assert rows[1][2] == "Europe/Brussels"
    header = rows[4]
    lines = [dict(zip(header, r, strict=False)) for r in rows[5:]]
    by_device = {line["deviceId"]: line for line in lines if line["deviceId"]}
    for unit in statement["units"]:
        for i, m in enumerate(unit["meters"]):
            line = by_device[m["sensor"]["deviceId"]]
            assert line["unitId"] == unit["unitId"]
            assert isinstance(line["consumption"], float)
            assert line["consumption"] == m["consumption"]
            assert (line["startIndex"], line["endIndex"]) == (m["startIndex"], m["endIndex"])
            assert (line["startEstimated"], line["endEstimated"]) == (
                m["startEstimated"],
                m["endEstimated"],
            )
            if i == 0:
                assert (line["commonShare"], line["charged"]) == (
                    unit["commonShare"],
                    unit["charged"],
                )
    commons = [line for line in lines if line["unitId"] == "common"]
    assert [c["consumption"] for c in commons] == [
        c["consumption"] for c in statement["commonMeters"]
    ]
    assert lines[-1]["unitId"] == "total" and lines[-1]["charged"] == statement["total"]


async def test_the_csv_opens_right_in_a_belgian_excel(graphql, http, token, building):
    bearer = token(building.org)
    body = await graphql(STATEMENT, variables(building, "HOT_WATER"), bearer)
    statement = body["data"]["consumptionStatement"]
    response = await http.get(
        "/exports/statement.csv",
        params=query_string(building, "HOT_WATER"),
        headers={"Authorization": f"Bearer {bearer}"},
    )
    assert response.status_code == 200
    assert response.content.startswith("\ufeff".encode())
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[1].split(";")[:2] == ["from", "2025-01-01 00:00"]
    total = lines[-1].split(";")
    assert total[0] == "total"
    assert Decimal(total[-1].replace(",", ".")) == as_decimal(statement["total"])
    assert "," in total[-1] and "." not in total[-1]
    first_unit = statement["units"][0]
    row = next(line.split(";") for line in lines if line.startswith(first_unit["unitId"]))
    assert Decimal(row[8].replace(",", ".")) == as_decimal(first_unit["charged"])


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"sensorType": "LAVA"}, 400, "sensorType"),
        ({"from": "yesterday"}, 400, "from"),
        ({"buildingId": "x"}, 400, "buildingId"),
        ({"extra": "1"}, 400, "extra"),
        ({"to": "9" * 2_000}, 400, "query"),
        ({"buildingId": str(uuid.uuid4())}, 404, "buildingId"),
    ],
)
async def test_bad_export_requests_are_refused_naming_the_parameter(
    http, token, building, params, status, field
):
    response = await http.get(
        "/exports/statement.xlsx",
        params={**query_string(building, "HOT_WATER"), **params},
        headers={"Authorization": f"Bearer {token(building.org)}"},
    )
    assert response.status_code == status
    assert response.json()["field"] == field


async def test_exports_need_a_valid_token(http, building):
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = await http.get(
            "/exports/statement.csv", params=query_string(building, "HOT_WATER"), headers=headers
        )
        assert response.status_code == 401
        assert response.json()["code"] == "UNAUTHENTICATED"


async def test_exports_are_limited_per_user(http, token):
    """Each export costs a statement: 10 at once, then one every two seconds, per user."""
    bearer = token(uuid.uuid4())
    params = {
        "buildingId": str(uuid.uuid4()),
        "sensorType": "HOT_WATER",
        "from": START.isoformat(),
        "to": END.isoformat(),
    }
    statuses = [
        (
            await http.get(
                "/exports/statement.csv",
                params=params,
                headers={"Authorization": f"Bearer {bearer}"},
            )
        ).status_code
        for _ in range(16)
    ]
    assert statuses[:10] == [404] * 10 and 429 in statuses[10:]


async def test_a_device_id_that_looks_like_a_formula_stays_text(graphql, http, token, database_url):
    org, building, unit = uuid.uuid4(), str(uuid.uuid4()), str(uuid.uuid4())
    bearer = token(org)
    device = '=HYPERLINK("evil.example","x")'
    sensor = await create_sensor(graphql, bearer, buildingId=building, unitId=unit, deviceId=device)
    meter = Meter(
        sensor["id"], device, unit, [(START - timedelta(hours=1), 10.0), (END + STEP, 20.0)]
    )
    await _insert(database_url, org, building, [meter])
    params = {**query_string(Building(org, building, [unit], {}), "COLD_WATER")}
    headers = {"Authorization": f"Bearer {bearer}"}
    csv_text = (await http.get("/exports/statement.csv", params=params, headers=headers)).text
    assert f"'{device}".replace('"', '""') in csv_text
    response = await http.get("/exports/statement.xlsx", params=params, headers=headers)
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    cells = [c for row in sheet.iter_rows() for c in row if c.value == device]
    assert cells and all(c.data_type == "s" for c in cells)


async def test_a_period_in_a_half_hour_offset_counts_every_reading_once(
    graphql, token, database_url
):
    """Rollups are UTC hours: a start at :45 UTC written at +05:30 (11:15, a whole hour there
    is half past in UTC) must not miss the readings of its hour."""
    org, building, unit = uuid.uuid4(), str(uuid.uuid4()), str(uuid.uuid4())
    bearer = token(org)
    sensor = await create_sensor(graphql, bearer, buildingId=building, unitId=unit)
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    readings = [(t0 + timedelta(minutes=10 * i), round(100 + 0.137 * i, 3)) for i in range(145)]
    meter = Meter(sensor["id"], "K", unit, readings)
    await _insert(database_url, org, building, [meter])
    start, end = t0 + timedelta(hours=5, minutes=45), t0 + timedelta(hours=18, minutes=45)
    kolkata = ZoneInfo("Asia/Kolkata")
    body = await graphql(
        STATEMENT,
        {
            "b": building,
            "t": "COLD_WATER",
            "from": start.astimezone(kolkata).isoformat(),
            "to": end.isoformat(),
            "how": "BY_CONSUMPTION",
        },
        bearer,
    )
    assert "errors" not in body, body
    want = shown(meter.consumption(start, end))
    assert as_decimal(body["data"]["consumptionStatement"]["total"]) == want == Decimal("10.686")


async def test_statements_are_limited_per_user_and_per_operation(graphql, token, building):
    bearer = token(building.org)  # one user
    codes = []
    for _ in range(12):
        body = await graphql(STATEMENT, {**variables(building, "HOT_WATER"), "b": "x"}, bearer)
        codes.append(error_codes(body)[0])
    # Ten at once (each refused here for its building id, after being counted), then one
    # every two seconds: the eleventh is refused before anything is read.
    assert codes[:10] == ["BAD_USER_INPUT"] * 10 and "RATE_LIMITED" in codes[10:]
    three = " ".join(
        f"s{i}: consumptionStatement(buildingId: $b, sensorType: HOT_WATER, from: $f, to: $t) {{ total }}"
        for i in range(3)
    )
    body = await graphql(
        f"query($b: ID!, $f: DateTime!, $t: DateTime!) {{ {three} }}",
        {"b": building.id, "f": START.isoformat(), "t": END.isoformat()},
        token(building.org),
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "query"
