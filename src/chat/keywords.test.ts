import { expect, test } from "bun:test";
import { createKeywordMatcher } from "./keywords";

const wantsHuman = createKeywordMatcher(["人工", "转人工", "human", "agent"]);

test("Chinese keywords match anywhere, after width and case folding", () => {
  expect(wantsHuman("我要转人工")).toBe(true);
  expect(wantsHuman("请帮我找人工客服！")).toBe(true);
  expect(wantsHuman("退货怎么办")).toBe(false);
});

test("Latin keywords match whole words only, in any case or width", () => {
  expect(wantsHuman("HUMAN please")).toBe(true);
  expect(wantsHuman("ｈｕｍａｎ")).toBe(true);
  expect(wantsHuman("talk to an agent.")).toBe(true);
  expect(wantsHuman("我要agent")).toBe(true);
  expect(wantsHuman("agentic workflows")).toBe(false);
  expect(wantsHuman("humane society")).toBe(false);
});

test("no keywords never match", () => {
  expect(createKeywordMatcher([])("human")).toBe(false);
});
