import { describe, expect, test } from "bun:test";
import { BusinessHours, type BusinessHoursConfig } from "./business-hours";

const weekdays = ["09:00-12:00", "13:00-18:00"];
const shanghai: BusinessHoursConfig = {
  timezone: "Asia/Shanghai",
  weekly: { mon: weekdays, tue: weekdays, wed: weekdays, thu: weekdays, fri: weekdays, sat: ["10:00-14:00"] },
  holidays: ["2025-10-01"],
};

const iso = (d: Date | null) => d?.toISOString() ?? null;

describe("BusinessHours", () => {
  test("open and closed around lunch, in the shop's time zone (UTC+8)", () => {
    const bh = new BusinessHours(shanghai);
    // Wed 2025-06-11 10:00 Shanghai = 02:00Z.
    expect(bh.isOpen(new Date("2025-06-11T02:00:00Z"))).toBe(true);
    // 12:30 Shanghai: lunch break.
    expect(bh.isOpen(new Date("2025-06-11T04:30:00Z"))).toBe(false);
    expect(iso(bh.nextOpening(new Date("2025-06-11T04:30:00Z")))).toBe("2025-06-11T05:00:00.000Z");
    // Range end is exclusive: 18:00 is closed.
    expect(bh.isOpen(new Date("2025-06-11T10:00:00Z"))).toBe(false);
    expect(bh.isOpen(new Date("2025-06-11T09:59:59Z"))).toBe(true);
  });

  test("nextOpening returns the date itself when open", () => {
    const at = new Date("2025-06-11T02:00:00Z");
    expect(new BusinessHours(shanghai).nextOpening(at)).toBe(at);
  });

  test("a question at 23:00 waits for the next morning, across local midnight", () => {
    const bh = new BusinessHours(shanghai);
    // Tue 23:00 Shanghai = Tue 15:00Z; next opening Wed 09:00 Shanghai = Wed 01:00Z.
    expect(iso(bh.nextOpening(new Date("2025-06-10T15:00:00Z")))).toBe("2025-06-11T01:00:00.000Z");
    // Just after local midnight (Wed 00:30 = Tue 16:30Z): same answer.
    expect(iso(bh.nextOpening(new Date("2025-06-10T16:30:00Z")))).toBe("2025-06-11T01:00:00.000Z");
  });

  test("weekend and holidays are skipped", () => {
    const bh = new BusinessHours(shanghai);
    // Sat 2025-06-14 15:00 Shanghai (after Saturday hours) → Mon 09:00.
    expect(iso(bh.nextOpening(new Date("2025-06-14T07:00:00Z")))).toBe("2025-06-16T01:00:00.000Z");
    // Tue 2025-09-30 20:00 → Wed 10-01 is a holiday → Thu 10-02 09:00.
    expect(bh.isOpen(new Date("2025-10-01T02:00:00Z"))).toBe(false);
    expect(iso(bh.nextOpening(new Date("2025-09-30T12:00:00Z")))).toBe("2025-10-02T01:00:00.000Z");
  });

  test("uses the injected clock when no date is given", () => {
    let now = new Date("2025-06-11T02:00:00Z");
    const bh = new BusinessHours(shanghai, { now: () => now });
    expect(bh.isOpen()).toBe(true);
    now = new Date("2025-06-11T15:00:00Z");
    expect(bh.isOpen()).toBe(false);
    expect(iso(bh.nextOpening())).toBe("2025-06-12T01:00:00.000Z");
  });

  test("opening hours stay on local time across a DST change (Europe/Berlin)", () => {
    const bh = new BusinessHours({ timezone: "Europe/Berlin", weekly: { mon: ["09:00-17:00"], sat: ["09:00-17:00"], sun: ["09:00-17:00"] } });
    // Sat 2025-03-29 20:00 CET (UTC+1) → Sun 03-30 09:00 CEST (UTC+2) = 07:00Z.
    expect(iso(bh.nextOpening(new Date("2025-03-29T19:00:00Z")))).toBe("2025-03-30T07:00:00.000Z");
    // Sat 2025-10-25 20:00 CEST → Sun 10-26 09:00 CET = 08:00Z.
    expect(iso(bh.nextOpening(new Date("2025-10-25T18:00:00Z")))).toBe("2025-10-26T08:00:00.000Z");
    expect(bh.isOpen(new Date("2025-10-26T08:00:00Z"))).toBe(true);
    expect(bh.isOpen(new Date("2025-10-26T07:59:00Z"))).toBe(false);
  });

  test("an opening inside the spring-forward gap shifts forward by the gap", () => {
    // New York: 2025-03-09 02:00 EST jumps to 03:00 EDT; 2025-11-02 02:00 EDT falls back to 01:00 EST.
    const bh = new BusinessHours({ timezone: "America/New_York", weekly: { sun: ["02:30-04:00"] } });
    // 02:30 does not exist on 03-09: opens at 03:30 EDT = 07:30Z.
    expect(iso(bh.nextOpening(new Date("2025-03-09T05:00:00Z")))).toBe("2025-03-09T07:30:00.000Z");
    expect(bh.isOpen(new Date("2025-03-09T07:15:00Z"))).toBe(true); // 03:15 EDT, inside 02:30-04:00 by wall time
    // On the fall-back day 02:30 exists once, after the repeated hour: 02:30 EST = 07:30Z.
    expect(iso(bh.nextOpening(new Date("2025-11-02T04:00:00Z")))).toBe("2025-11-02T07:30:00.000Z");
  });

  test("a repeated local time resolves to the earlier instant", () => {
    const bh = new BusinessHours({ timezone: "America/New_York", weekly: { sun: ["01:30-01:45"] } });
    // 01:30 EDT (05:30Z) comes before 01:30 EST (06:30Z).
    expect(iso(bh.nextOpening(new Date("2025-11-02T04:00:00Z")))).toBe("2025-11-02T05:30:00.000Z");
    // Both 01:40s are open by wall time.
    expect(bh.isOpen(new Date("2025-11-02T05:40:00Z"))).toBe(true);
    expect(bh.isOpen(new Date("2025-11-02T06:40:00Z"))).toBe(true);
  });

  test("24:00 closes at midnight and back-to-back days stay open through it", () => {
    const bh = new BusinessHours({ timezone: "UTC", weekly: { mon: ["20:00-24:00"], tue: ["00:00-02:00"] } });
    expect(bh.isOpen(new Date("2025-06-09T23:59:59Z"))).toBe(true);
    expect(bh.isOpen(new Date("2025-06-10T00:00:00Z"))).toBe(true);
    expect(bh.isOpen(new Date("2025-06-10T02:00:00Z"))).toBe(false);
  });

  test("a schedule that never opens has no next opening", () => {
    expect(new BusinessHours({ timezone: "UTC", weekly: {} }).nextOpening(new Date("2025-01-01T00:00:00Z"))).toBeNull();
  });

  test("rejects bad zones, ranges, days and holidays", () => {
    expect(() => new BusinessHours({ timezone: "Mars/Olympus", weekly: {} })).toThrow(/time zone/);
    expect(() => new BusinessHours({ timezone: "UTC", weekly: { mon: ["18:00-09:00"] } })).toThrow(/start before end/);
    expect(() => new BusinessHours({ timezone: "UTC", weekly: { mon: ["9-17"] } })).toThrow(/HH:MM/);
    expect(() => new BusinessHours({ timezone: "UTC", weekly: { mon: ["09:00-24:30"] } })).toThrow(/24:00/);
    expect(() => new BusinessHours({ timezone: "UTC", weekly: { monday: ["09:00-17:00"] } as never })).toThrow(/weekday/);
    expect(() => new BusinessHours({ timezone: "UTC", weekly: {}, holidays: ["2025-02-30"] })).toThrow(/holiday/);
  });
});
