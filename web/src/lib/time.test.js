// Local calendar periods across daylight-saving changes (run by tests/unit/test_web.py:
// `node --test web/src/lib/`).
import assert from "node:assert/strict";
import { test } from "node:test";
import { localDate, localMidnight, periodBounds } from "./time.js";

const BRUSSELS = "Europe/Brussels";

test("local midnight in winter and summer", () => {
  assert.equal(localMidnight(BRUSSELS, 2025, 0, 1).toISOString(), "2024-12-31T23:00:00.000Z");
  assert.equal(localMidnight(BRUSSELS, 2025, 6, 1).toISOString(), "2025-06-30T22:00:00.000Z");
  assert.equal(localMidnight("UTC", 2025, 6, 1).toISOString(), "2025-07-01T00:00:00.000Z");
  assert.equal(localMidnight("America/New_York", 2025, 2, 9).toISOString(), "2025-03-09T05:00:00.000Z");
});

test("the day clocks go forward lasts 23 hours, the day they go back 25", () => {
  const hours = (a, b) => (b - a) / 3_600_000;
  const spring = periodBounds("day", BRUSSELS, new Date("2025-03-30T12:00:00Z")).current;
  const autumn = periodBounds("day", BRUSSELS, new Date("2025-10-26T12:00:00Z")).current;
  assert.equal(hours(...spring), 23);
  assert.equal(hours(...autumn), 25);
});

test("weeks start on Monday, months and years on their first local day", () => {
  const now = new Date("2025-11-05T10:00:00Z"); // a Wednesday
  const week = periodBounds("week", BRUSSELS, now);
  assert.equal(week.current[0].toISOString(), "2025-11-02T23:00:00.000Z");
  assert.equal(week.previous[0].toISOString(), "2025-10-26T23:00:00.000Z");
  const month = periodBounds("month", BRUSSELS, now);
  assert.deepEqual(month.current.map((d) => d.toISOString()), ["2025-10-31T23:00:00.000Z", "2025-11-30T23:00:00.000Z"]);
  assert.equal(month.previous[0].toISOString(), "2025-09-30T22:00:00.000Z");
  const year = periodBounds("year", BRUSSELS, new Date("2026-01-01T00:30:00+01:00"));
  assert.equal(year.current[0].toISOString(), "2025-12-31T23:00:00.000Z");
  assert.equal(year.previous[0].toISOString(), "2024-12-31T23:00:00.000Z");
});

test("local dates near midnight", () => {
  assert.deepEqual(localDate(BRUSSELS, new Date("2025-12-31T23:30:00Z")), { year: 2026, month: 0, day: 1, weekday: 3 });
});
