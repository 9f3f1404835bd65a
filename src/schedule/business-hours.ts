import { KefuError } from "../errors/kefu-error";

/**
 * Business hours in an IANA time zone: a weekly schedule of local wall-clock ranges plus holidays.
 * Time-zone math uses Intl only. Ranges are local times, so "09:00" means 09:00 on the shop's clock
 * on both sides of a DST change.
 *
 * Local times that do not exist (spring-forward gap) are shifted forward by the gap, and repeated
 * times (fall-back) resolve to the earlier instant, as Temporal's "compatible" disambiguation does.
 */

export type Weekday = "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun";

export interface BusinessHoursConfig {
  /** IANA zone, e.g. "Asia/Shanghai". */
  timezone: string;
  /** "HH:MM-HH:MM" ranges per day; end may be "24:00"; a missing day is closed. */
  weekly: Partial<Record<Weekday, string[]>>;
  /** Local dates "YYYY-MM-DD" closed all day. */
  holidays?: string[];
}

export interface BusinessHoursOptions {
  /** Clock used when no date is passed; injectable for tests. Default `() => new Date()`. */
  now?: () => Date;
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  /** Minutes since local midnight, with seconds as a fraction. */
  minute: number;
}

/** Index = Date#getUTCDay() (0 = Sunday). */
const DAYS: Weekday[] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const DAY_MS = 86_400_000;
/** Farther than any schedule can be closed: a year of holidays plus a week. */
const SEARCH_DAYS = 373;

export class BusinessHours {
  readonly timezone: string;
  private readonly ranges: Map<Weekday, [number, number][]>;
  private readonly holidays: Set<string>;
  private readonly fmt: Intl.DateTimeFormat;
  private readonly now: () => Date;

  constructor(cfg: BusinessHoursConfig, opts: BusinessHoursOptions = {}) {
    this.timezone = cfg.timezone;
    try {
      this.fmt = new Intl.DateTimeFormat("en-US", {
        timeZone: cfg.timezone,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
    } catch {
      throw invalid(`time zone "${cfg.timezone}" is not a valid IANA zone`);
    }
    this.ranges = new Map();
    for (const [day, list] of Object.entries(cfg.weekly) as [Weekday, string[] | undefined][]) {
      if (!DAYS.includes(day)) throw invalid(`"${day}" is not a weekday (use ${DAYS.join(", ")})`);
      this.ranges.set(day, (list ?? []).map((r) => parseRange(day, r)).sort((a, b) => a[0] - b[0]));
    }
    this.holidays = new Set();
    for (const h of cfg.holidays ?? []) {
      const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(h);
      const d = m ? new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!)) : null;
      if (!m || !d || d.getUTCDate() !== +m[3]! || d.getUTCMonth() !== +m[2]! - 1) throw invalid(`holiday "${h}" is not a YYYY-MM-DD date`);
      this.holidays.add(h);
    }
    this.now = opts.now ?? (() => new Date());
  }

  isOpen(at: Date = this.now()): boolean {
    const p = this.local(at.getTime());
    if (this.holidays.has(dateKey(p.year, p.month, p.day))) return false;
    return this.dayRanges(p.year, p.month, p.day).some(([s, e]) => p.minute >= s && p.minute < e);
  }

  /** `at` itself when open, else the start of the next open range; null when the schedule never opens. */
  nextOpening(at: Date = this.now()): Date | null {
    if (this.isOpen(at)) return at;
    const t = at.getTime();
    const p = this.local(t);
    for (let i = 0; i < SEARCH_DAYS; i++) {
      const d = new Date(Date.UTC(p.year, p.month - 1, p.day + i));
      const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
      if (this.holidays.has(dateKey(y, m, day))) continue;
      for (const [start] of this.dayRanges(y, m, day)) {
        const open = this.toInstant(y, m, day, start);
        if (open > t) return new Date(open);
      }
    }
    return null;
  }

  private dayRanges(y: number, m: number, d: number): [number, number][] {
    return this.ranges.get(DAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()]!) ?? [];
  }

  private local(t: number): LocalParts {
    const parts: Record<string, number> = {};
    for (const { type, value } of this.fmt.formatToParts(t)) if (type !== "literal") parts[type] = Number(value);
    return {
      year: parts.year!,
      month: parts.month!,
      day: parts.day!,
      minute: parts.hour! * 60 + parts.minute! + parts.second! / 60,
    };
  }

  /** UTC offset in ms at instant t (local wall time minus UTC). */
  private offset(t: number): number {
    const p = this.local(t);
    const wall = Date.UTC(p.year, p.month - 1, p.day, 0, 0, 0) + Math.round(p.minute * 60) * 1000;
    return wall - Math.floor(t / 1000) * 1000;
  }

  /** The instant local wall time y-m-d + minutes happens (gaps shift forward, repeats take the earlier). */
  private toInstant(y: number, m: number, d: number, minutes: number): number {
    const wall = Date.UTC(y, m - 1, d, 0, minutes);
    // Zone transitions are never closer than a day apart, so the offsets a day before and after bracket it.
    const before = this.offset(wall - DAY_MS);
    const after = this.offset(wall + DAY_MS);
    const candidates = [wall - before, wall - after].filter((c) => this.offset(c) === wall - c);
    if (candidates.length > 0) return Math.min(...candidates);
    // Inside a spring-forward gap: read the wall time with the offset from before the jump.
    return wall - before;
  }
}

function parseRange(day: Weekday, r: string): [number, number] {
  const m = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(r);
  const bad = () => invalid(`${day} range "${r}" must be "HH:MM-HH:MM" with start before end, end at most 24:00`);
  if (!m) throw bad();
  const [h1, m1, h2, m2] = [+m[1]!, +m[2]!, +m[3]!, +m[4]!];
  const start = h1 * 60 + m1;
  const end = h2 * 60 + m2;
  if (h1 > 23 || m1 > 59 || m2 > 59 || end > 24 * 60 || start >= end) throw bad();
  return [start, end];
}

function dateKey(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

function invalid(message: string) {
  return new KefuError("config_invalid", 500, `business hours: ${message}`);
}
