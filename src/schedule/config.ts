import { type Static, Type as t } from "@sinclair/typebox";

const ranges = (description: string, fallback: string[]) =>
  t.Optional(t.Array(t.String({ pattern: "^\\d{2}:\\d{2}-\\d{2}:\\d{2}$" }), { default: fallback, description }));

/** Business hours (`[hours]`): when humans and the off-hours batch consider the shop open. */
export const hoursSection = t.Object(
  {
    enabled: t.Boolean({ default: false, description: "Apply business hours; when false the shop counts as always open." }),
    timezone: t.String({ default: "UTC", description: 'IANA time zone of the schedule, e.g. "Asia/Shanghai" or "Europe/Berlin".' }),
    weekly: t.Object(
      {
        mon: ranges("Monday opening ranges, local time, e.g. [\"09:00-12:00\", \"13:00-18:00\"].", ["09:00-18:00"]),
        tue: ranges("Tuesday opening ranges.", ["09:00-18:00"]),
        wed: ranges("Wednesday opening ranges.", ["09:00-18:00"]),
        thu: ranges("Thursday opening ranges.", ["09:00-18:00"]),
        fri: ranges("Friday opening ranges.", ["09:00-18:00"]),
        sat: ranges("Saturday opening ranges.", []),
        sun: ranges("Sunday opening ranges.", []),
      },
      {
        additionalProperties: false,
        default: { mon: ["09:00-18:00"], tue: ["09:00-18:00"], wed: ["09:00-18:00"], thu: ["09:00-18:00"], fri: ["09:00-18:00"], sat: [], sun: [] },
        description: 'Opening ranges per weekday ("HH:MM-HH:MM", end up to 24:00, several per day); a day left out is closed.',
      },
    ),
    holidays: t.Array(t.String({ pattern: "^\\d{4}-\\d{2}-\\d{2}$" }), { default: [], description: 'Local dates closed all day, "YYYY-MM-DD".' }),
  },
  { additionalProperties: false, description: "Business hours for off-hours handling." },
);

export type HoursConfig = Static<typeof hoursSection>;
