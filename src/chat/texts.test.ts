import { expect, test } from "bun:test";
import { isTextKey, pickLang, say } from "./texts";

test("language tags map to zh or en, else the fallback", () => {
  expect(pickLang("zh-CN", "en")).toBe("zh");
  expect(pickLang("zh_Hant", "en")).toBe("zh");
  expect(pickLang("en-GB", "zh")).toBe("en");
  expect(pickLang("fr", "zh")).toBe("zh");
  expect(pickLang(undefined, "en")).toBe("en");
});

test("texts fill in their variables in both languages", () => {
  expect(say("en", "agent_joined", { name: "Lin" })).toBe("Lin has joined the conversation.");
  expect(say("zh", "err_text_too_long", { max: 10 })).toContain("10");
  expect(isTextKey("err_rate_limited")).toBe(true);
  expect(isTextKey("toString")).toBe(false);
});
