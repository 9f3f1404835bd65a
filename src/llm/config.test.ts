import { expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { hoursSection } from "../schedule/config";
import { BusinessHours } from "../schedule/business-hours";
import { llmSection } from "./config";
import { LlmRegistry } from "./registry";

test("the [llm] defaults validate and build an empty registry", () => {
  const cfg = Value.Create(llmSection);
  expect(Value.Check(llmSection, cfg)).toBe(true);
  expect(new LlmRegistry(cfg).providers).toEqual([]);
});

test("a provider entry with only the required keys validates; unknown keys do not", () => {
  const cfg = { ...Value.Create(llmSection), providers: [{ name: "a", base_url: "http://127.0.0.1:11434/v1", model: "qwen" }] };
  expect(Value.Check(llmSection, cfg)).toBe(true);
  expect(Value.Check(llmSection, { ...cfg, providers: [{ ...cfg.providers[0], timeout: 5 }] })).toBe(false);
});

test("the [hours] defaults validate and build a Monday-to-Friday schedule", () => {
  const cfg = Value.Create(hoursSection);
  expect(Value.Check(hoursSection, cfg)).toBe(true);
  const bh = new BusinessHours(cfg);
  expect(bh.isOpen(new Date("2025-06-11T10:00:00Z"))).toBe(true);
  expect(bh.isOpen(new Date("2025-06-14T10:00:00Z"))).toBe(false);
});
