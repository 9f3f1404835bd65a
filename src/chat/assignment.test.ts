import { expect, test } from "bun:test";
import { logAssignment, pickAgent } from "./assignment";

test("least busy agent below capacity wins; ties keep the given order", () => {
  expect(pickAgent([{ id: 1, load: 2, maxConcurrent: 5 }, { id: 2, load: 1, maxConcurrent: 5 }, { id: 3, load: 1, maxConcurrent: 5 }])).toBe(2);
  expect(pickAgent([{ id: 1, load: 0, maxConcurrent: 0 }, { id: 2, load: 4, maxConcurrent: 5 }])).toBe(2);
  expect(pickAgent([{ id: 1, load: 3, maxConcurrent: 3 }])).toBeNull();
  expect(pickAgent([])).toBeNull();
});

test("every state change is one info line naming the event, the conversation, the agents and the reason", () => {
  const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
  const log = { info: (msg: string, fields?: Record<string, unknown>) => void lines.push({ msg, fields }) };
  const change = (from: string, to: string, from_agent: number | null, agent: number | null, reason: string) => logAssignment(log, { conversation_id: "c1", from, to, from_agent, agent, reason });
  change("bot", "queued", null, null, "keyword");
  change("queued", "agent", null, 7, "auto");
  change("agent", "agent", 7, 8, "transfer");
  change("agent", "queued", 8, null, "agent_offline");
  change("agent", "bot", 8, null, "return_to_bot");
  change("agent", "closed", 8, 8, "close");
  expect(lines.map((l) => l.msg)).toEqual(["conversation queued", "conversation assigned", "conversation transferred", "conversation returned", "conversation returned", "conversation closed"]);
  expect(lines[2]!.fields).toEqual({ event: "transferred", conversation_id: "c1", from: "agent", to: "agent", from_agent_id: 7, agent_id: 8, reason: "transfer" });
  expect(lines[0]!.fields).toEqual({ event: "queued", conversation_id: "c1", from: "bot", to: "queued", reason: "keyword" });
});
