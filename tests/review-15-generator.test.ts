import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { FromWorker } from "../src/models/protocol";
import { type ModelRuntime, startModels } from "../src/models/runtime";
import { collectingLogger, modelsConfig, tempDir } from "./fixtures/models";
import { LM_ANSWER, writeCausalLm } from "./fixtures/models/causal-lm";

// Review of issue #15: the local generator was given the whole prompt the cloud providers get (instructions,
// knowledge chunks, conversation), however long. A small CPU model reads a prompt of thousands of tokens for
// many seconds before its first token (one model run nothing can interrupt), past the answer deadline and the
// hung-worker timer, or beyond its context. Now the prompt is cut to max_prompt_tokens.
const root = tempDir();
writeCausalLm(join(root, "lm"), { words: ["old", "turn", "knowledge", "question"] });
let rt: ModelRuntime;
afterAll(() => rt?.close());

test("a prompt longer than max_prompt_tokens loses its oldest turns, then is shortened; the answer still comes", async () => {
  const { log } = collectingLogger();
  rt = await startModels({ config: modelsConfig({ dir: root, generator: { model: "lm", max_prompt_tokens: 64 } }), embedder: "builtin", baseDir: root, log });
  await rt.settled();
  const pool = rt.pool("generator")!;
  const history = Array.from({ length: 30 }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: "old turn ".repeat(5) }));
  const messages = [{ role: "system", content: "knowledge ".repeat(200) }, ...history, { role: "user", content: "question" }];
  const r = await pool.request<Extract<FromWorker, { type: "generated" }>>({ type: "generate", messages, maxNewTokens: 32, maxPromptTokens: 64 });
  expect(r.promptTokens).toBeGreaterThan(0);
  expect(r.promptTokens).toBeLessThanOrEqual(64);
  expect(r.text.trim()).toBe(LM_ANSWER);
  // Through the local step: the same cut (from [models.generator] max_prompt_tokens).
  let text = "";
  for await (const piece of rt.generator!.stream(messages, new AbortController().signal, 5000)) text += piece;
  expect(text.trim()).toBe(LM_ANSWER);
}, 10_000);
