import { type Static, t } from "elysia";

/** Longest text and title, in characters (code points, as chat messages count them), after trimming. */
export const MAX_TEXT = 4000;
export const MAX_TITLE = 100;

// The schemas check shape and bound the size; the service checks the exact lengths after trimming
// (a length in characters, where TypeBox counts UTF-16 units).
const Shortcut = t.String({ pattern: "^[a-z0-9_-]{1,32}$", description: "What the agent types after `/`: 1-32 of a-z 0-9 _ -" });
const Title = t.Union([t.String({ maxLength: MAX_TITLE * 2 }), t.Null()]);
const Text = t.String({ maxLength: MAX_TEXT * 2 });

export const CannedCreateBody = t.Object(
  { shortcut: Shortcut, title: t.Optional(Title), text: Text, shared: t.Optional(t.Boolean()) },
  { additionalProperties: false },
);
export type CannedCreateBody = Static<typeof CannedCreateBody>;

/** Only the fields given change; `title: null` removes the title. */
export const CannedPatchBody = t.Object(
  { shortcut: t.Optional(Shortcut), title: t.Optional(Title), text: t.Optional(Text), shared: t.Optional(t.Boolean()) },
  { additionalProperties: false },
);
export type CannedPatchBody = Static<typeof CannedPatchBody>;

export const CannedIdParams = t.Object({ id: t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });

/** One canned reply as the API returns it. `title` is absent when there is none. */
export const CannedReplyView = t.Object({
  id: t.Integer(),
  shortcut: t.String(),
  title: t.Optional(t.String()),
  text: t.String(),
  shared: t.Boolean(),
  owner_id: t.Integer(),
  /** The owner's display name, else their login. */
  owner_name: t.String(),
});
export type CannedReplyView = Static<typeof CannedReplyView>;

export const CannedList = t.Object({ canned: t.Array(CannedReplyView) });
export const CannedOne = t.Object({ canned: CannedReplyView });
