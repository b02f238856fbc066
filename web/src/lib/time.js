// Local calendar periods in a building's IANA time zone, with no library: the offset of a
// zone at an instant comes from Intl, and a local midnight is found by correcting once for it.

function offsetMs(timeZone, instant) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(instant);
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000;
}

/** The instant of local midnight starting year-month-day (month 0-based; overflow allowed). */
export function localMidnight(timeZone, year, month, day) {
  const guess = Date.UTC(year, month, day);
  let instant = new Date(guess - offsetMs(timeZone, new Date(guess)));
  instant = new Date(guess - offsetMs(timeZone, instant)); // across a DST change
  return instant;
}

/** {year, month, day, weekday} of an instant, in the zone. */
export function localDate(timeZone, instant) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    year: "numeric",
    month: "numeric",
    day: "numeric",
    weekday: "short",
  }).formatToParts(instant);
  const get = (type) => parts.find((p) => p.type === type).value;
  const weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  return {
    year: Number(get("year")),
    month: Number(get("month")) - 1,
    day: Number(get("day")),
    weekday: weekdays.indexOf(get("weekday")),
  };
}

// What a period's chart asks for: the bucket, and the current and previous periods' bounds.
export const PERIODS = {
  day: { bucket: "HOUR", label: "Today against yesterday" },
  week: { bucket: "DAY", label: "This week against last week" },
  month: { bucket: "DAY", label: "This month against last month" },
  year: { bucket: "MONTH", label: "This year against last year" },
};

export function periodBounds(period, timeZone, now = new Date()) {
  const d = localDate(timeZone, now);
  const at = (y, m, day) => localMidnight(timeZone, y, m, day);
  switch (period) {
    case "day":
      return { current: [at(d.year, d.month, d.day), at(d.year, d.month, d.day + 1)], previous: [at(d.year, d.month, d.day - 1), at(d.year, d.month, d.day)] };
    case "week": {
      const monday = d.day - d.weekday;
      return { current: [at(d.year, d.month, monday), at(d.year, d.month, monday + 7)], previous: [at(d.year, d.month, monday - 7), at(d.year, d.month, monday)] };
    }
    case "month":
      return { current: [at(d.year, d.month, 1), at(d.year, d.month + 1, 1)], previous: [at(d.year, d.month - 1, 1), at(d.year, d.month, 1)] };
    default:
      return { current: [at(d.year, 0, 1), at(d.year + 1, 0, 1)], previous: [at(d.year - 1, 0, 1), at(d.year, 0, 1)] };
  }
}

export function formatInstant(iso, timeZone) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat("en-GB", { timeZone, dateStyle: "short", timeStyle: "medium" }).format(new Date(iso));
}
