import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type FakeLlm, startFakeLlm } from "../bench/fake-llm/server";
import { FAQ_TEXTS, writeEncoder } from "./fixtures/models";
import { LM_ANSWER, writeCausalLm } from "./fixtures/models/causal-lm";
import { waitForStart } from "./helpers/process";

// Done-when 2 of issue #15: the compiled binary alone in an empty dir, with the tiny models beside it,
// answers `kefu ask` through the ONNX embedder (native onnxruntime embedded in the binary) and streams a
// local-generator answer when the only provider is down; it stops cleanly (sessions disposed first). The
// WASM backend, embedded as well, answers the same question.
const root = resolve(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "kefu-models-bin-"));
let llm: FakeLlm | undefined;
afterAll(() => {
  llm?.stop();
  rmSync(work, { recursive: true, force: true });
});

test("binary + tiny models: kefu ask on the ONNX embedder, local generator streams with the provider down", async () => {
  const built = join(work, "build", "kefu");
  const build = Bun.spawnSync([process.execPath, "scripts/build.ts", "--outfile", built], { cwd: root, stdout: "pipe", stderr: "pipe" });
  expect(build.exitCode, build.stderr.toString()).toBe(0);

  const site = join(work, "site");
  mkdirSync(site);
  copyFileSync(built, join(site, "kefu"));
  expect(readdirSync(site)).toEqual(["kefu"]);
  writeEncoder(join(site, "models", "tiny-bert"), { corpus: FAQ_TEXTS });
  writeCausalLm(join(site, "models", "tiny-lm"));
  llm = await startFakeLlm({ errorRate: 1, errorStatus: 500 });
  writeFileSync(
    join(site, "config.toml"),
    [
      "[kb]",
      'embedder = "onnx"',
      "[answer]",
      "ask_open = true",
      "[llm]",
      "answer_deadline_ms = 4000",
      "[[llm.providers]]",
      'name = "down"',
      `base_url = "${llm.url}"`,
      'model = "m"',
      "[models]",
      'dir = "./models"',
      "[models.embedder]",
      'model = "tiny-bert"',
      "[models.generator]",
      'model = "tiny-lm"',
      "",
    ].join("\n"),
  );
  writeFileSync(join(site, "faq.csv"), "id,question,answer\ninvoice,可以开发票吗？,在订单详情页申请电子发票。\nshipping,多久发货？,付款后 48 小时内发货。\n");
  // No node_modules, no bun on PATH; the native library is extracted into the site's own temp dir.
  const env = { PATH: "/usr/bin:/bin", HOME: site, TMPDIR: join(site, "tmp"), KEFU_SERVER_PORT: "0", KEFU_SERVER_HOST: "127.0.0.1" };
  mkdirSync(env.TMPDIR);
  const run = (args: string[]) => Bun.spawnSync([join(site, "kefu"), ...args, "-c", "config.toml"], { cwd: site, env, stdout: "pipe", stderr: "pipe" });

  const imported = run(["import", "faq.csv"]);
  expect(imported.exitCode, imported.stderr.toString()).toBe(0);
  const ask = run(["ask", "--json", "怎么开发票"]);
  expect(ask.exitCode, ask.stderr.toString()).toBe(0);
  expect(ask.stderr.toString()).not.toContain("onnx embedder unavailable");
  const answer = JSON.parse(ask.stdout.toString()) as { path: string; matches: { id: string }[] };
  expect({ path: answer.path, top: answer.matches[0]?.id }).toEqual({ path: "direct", top: "invoice" });
  const db = new Database(join(site, "data", "kefu.db"), { readonly: true });
  expect(db.query("SELECT value FROM kb_meta WHERE key = 'embedder_id'").get()).toEqual({ value: expect.stringMatching(/^onnx:tiny-bert:q8:32:/) });
  db.close();
  // The portable backend: onnxruntime-web's WASM, embedded too, answers the same (no re-index: same vectors).
  const wasm = Bun.spawnSync([join(site, "kefu"), "ask", "--json", "发票怎么申请", "-c", "config.toml"], { cwd: site, env: { ...env, KEFU_MODELS_BACKEND: "wasm" }, stdout: "pipe", stderr: "pipe" });
  expect(wasm.exitCode, wasm.stderr.toString()).toBe(0);
  expect(wasm.stderr.toString()).not.toContain("onnx embedder unavailable");
  expect((JSON.parse(wasm.stdout.toString()) as { matches: { id: string }[] }).matches[0]?.id).toBe("invoice");
  expect(readdirSync(env.TMPDIR).some((d) => d.startsWith("kefu-onnxruntime-web-"))).toBe(true);

  const proc = Bun.spawn([join(site, "kefu"), "-c", "config.toml"], { cwd: site, env, stdout: "ignore", stderr: "pipe" });
  const { port, stderr } = await waitForStart(proc);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const r = (await (await fetch(`${url}/readyz`)).json()) as { models: { generator: { state: string } } };
    if (r.models.generator.state !== "starting") break;
    await Bun.sleep(50);
  }
  const readyz = (await (await fetch(`${url}/readyz`)).json()) as { models: Record<string, { state: string }> };
  expect(readyz.models.embedder?.state).toBe("ready");
  expect(readyz.models.generator?.state).toBe("ready");
  const res = await fetch(`${url}/api/ask?stream=1`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: "Where is my parcel from last week?" }) });
  const body = await res.text();
  const deltas = [...body.matchAll(/^event: delta\ndata: (.*)$/gm)].map((m) => JSON.parse(m[1]!).text as string);
  expect(deltas.length, body).toBeGreaterThan(5);
  expect(deltas.join("").trim()).toBe(LM_ANSWER);
  expect(llm.stats.requests).toBeGreaterThan(0);
  proc.kill("SIGTERM");
  expect(await proc.exited, stderr()).toBe(0);
  expect(stderr()).not.toMatch(/NAPI|FATAL|Segmentation/);
}, 120_000);
