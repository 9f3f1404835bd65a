import { expect, test } from "bun:test";
import { createKeywordMatcher } from "./keywords";

const wantsHuman = createKeywordMatcher(["人工", "转人工", "human", "agent"]);
// The default `handoff_keywords`.
const defaults = createKeywordMatcher(["人工", "转人工", "人工客服", "human", "agent"]);

test("Chinese keywords match inside the text, after width and case folding", () => {
  expect(wantsHuman("我要转人工")).toBe(true);
  expect(wantsHuman("请帮我找人工客服！")).toBe(true);
  expect(wantsHuman("退货怎么办")).toBe(false);
});

test("the default keywords fire on requests for a human", () => {
  for (const m of ["人工", "转人工", "我要人工", "人工客服", "找人工客服", "请转人工服务", "人工！", "我要找人工", "人工人工", "找个人工客服", "能转人工吗", "需要人工作答"]) {
    expect([m, defaults(m)]).toEqual([m, true]);
  }
});

test("a Chinese keyword inside a longer word that means something else does not fire", () => {
  for (const m of ["你们用人工智能吗", "人工智能客服好用吗", "人工费多少", "人工成本", "人工湖在哪里", "人工降雨", "是人工合成的吗", "机器人工作时间", "有人工作吗", "工人工资怎么算", "我想转人工智能专业"]) {
    expect([m, defaults(m)]).toEqual([m, false]);
  }
  // Another occurrence in the same message still counts.
  expect(defaults("人工智能太笨了，我要人工")).toBe(true);
  expect(defaults("人工费多少？转人工")).toBe(true);
  // The list can be replaced.
  expect(createKeywordMatcher(["人工"], [])("你们用人工智能吗")).toBe(true);
  expect(createKeywordMatcher(["人工"], ["人工服务"])("请转人工服务")).toBe(false);
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
