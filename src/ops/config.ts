import { type Static, Type as t } from "@sinclair/typebox";

/** "6h", "30m", "1d", "90s"; "" or "0" is off. */
export const DURATION_PATTERN = "^(0|(\\d+(\\.\\d+)?(s|m|h|d))?)$";

/** Milliseconds of a duration string (see DURATION_PATTERN); 0 for "" and "0". */
export function durationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  if (!m) return 0;
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
}

/** `[backup]`: scheduled online backups (kefu backup and kefu restore work without it). */
export const backupSection = t.Object(
  {
    dir: t.String({
      default: "./backups",
      description: "Directory scheduled backups are written to (kefu-YYYYMMDD-HHMMSS.db[.gz]). Relative to the config file's directory. Put it on another disk, or ship it off the machine: a backup beside the database does not survive losing the disk.",
    }),
    every: t.String({
      default: "",
      pattern: DURATION_PATTERN,
      description: 'How often the server takes an online backup, e.g. "24h", "6h", "1d". Empty or "0": no scheduled backups. The next one is due this long after the newest file in dir, so restarts neither skip nor repeat one.',
    }),
    keep: t.Integer({ default: 7, minimum: 1, maximum: 10000, description: "Scheduled backups kept in dir; older ones (by name) are deleted after each new backup. Other files in dir are never touched." }),
    gzip: t.Boolean({ default: true, description: "Compress scheduled backups with gzip (.db.gz). kefu restore reads both." }),
  },
  { additionalProperties: false, description: "Scheduled online backups." },
);

/** `[retention]`: how long chat data is kept; a daily job deletes the rest in small batches. */
export const retentionSection = t.Object(
  {
    messages_days: t.Integer({
      default: 0,
      minimum: 0,
      maximum: 36500,
      description: "A bot-only conversation (never handed to a human) is deleted with its messages and pending questions when its last activity is older than this many days. 0 (the default) keeps them for ever: an upgraded install never loses conversations it did not choose to; 180 is a common choice. Open tickets (queued, or with an agent) are never deleted.",
    }),
    tickets_days: t.Integer({
      default: 0,
      minimum: 0,
      maximum: 36500,
      description: "The same for tickets: conversations that were queued for a human, had an agent or were closed by one (with their notes and rating). 0 (the default) keeps them for ever; 365 is a common choice.",
    }),
    visitors_days: t.Integer({
      default: 1,
      minimum: 0,
      maximum: 36500,
      description: "Anonymous visitors (no name, e-mail or verified user) with no stored conversation are deleted this many days after they were last seen, with their device tokens. Visitors who left a name or e-mail, or are verified, follow messages_days instead. 0 keeps them for ever.",
    }),
    audit_days: t.Integer({ default: 730, minimum: 0, maximum: 36500, description: "Audit log rows older than this many days are deleted (they hold account names and IP addresses). 0 keeps them for ever." }),
  },
  { additionalProperties: false, description: "Data retention: a daily job deletes old chat data in small batches, then gives the space back (incremental vacuum)." },
);

export type BackupConfig = Static<typeof backupSection>;
export type RetentionConfig = Static<typeof retentionSection>;
