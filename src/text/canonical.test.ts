import { describe, expect, test } from "bun:test";
import { canonicalizeQuestion } from "./canonical.ts";

describe("canonicalizeQuestion", () => {
  test("question words, particles and greetings fold", () => {
    expect(canonicalizeQuestion("为啥借款失败呢？")).toBe("为什么借款失败?");
    expect(canonicalizeQuestion("为何借款失败")).toBe(canonicalizeQuestion("为什么借款失败"));
    expect(canonicalizeQuestion("您好，请问如何升额啊")).toBe(canonicalizeQuestion("怎样升额"));
    expect(canonicalizeQuestion("怎么样升额度啊")).toBe("怎么升额度");
    expect(canonicalizeQuestion("能不能提前还款吗")).toBe(canonicalizeQuestion("可以提前还款吗"));
    expect(canonicalizeQuestion("这是啥")).toBe("这是什么");
  });

  test("么 inside a word is kept; other text is untouched", () => {
    expect(canonicalizeQuestion("这么多吗")).toBe("这么多");
    expect(canonicalizeQuestion("退货流程")).toBe("退货流程");
  });

  test("English contractions expand", () => {
    expect(canonicalizeQuestion("What's my balance? I can't log in")).toBe("what is my balance? i can not log in");
    expect(canonicalizeQuestion("I don't know")).toBe("i do not know");
  });
});
