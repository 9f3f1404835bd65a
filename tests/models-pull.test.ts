import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pullModel } from "../src/models/hub";
import { FAQ_TEXTS, tempDir, writeEncoder } from "./fixtures/models";
import { startFakeHub } from "./fixtures/models/fake-hub";

// Done-when 3 of issue #15 (download half): `kefu models pull` against a local server in the hub's layout.
const src = tempDir();
writeEncoder(join(src, "bert"), { corpus: FAQ_TEXTS, hidden: 64 });
writeFileSync(join(src, "bert", "README.md"), "# tiny bert\n");
writeFileSync(join(src, "bert", "model.safetensors"), "weights for another framework");
const hub = startFakeHub({ "kefu-test/tiny-bert": join(src, "bert"), "kefu-test/copy": join(src, "bert") });
afterAll(() => hub.stop());
const cliEntry = resolve(import.meta.dir, "../src/cli/main.ts");

async function cli(dir: string, args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawn([process.execPath, cliEntry, ...args], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { out, err, code };
}

describe("kefu models pull", () => {
  test("fetches the q8 model's files from HF_ENDPOINT (not READMEs, other dtypes or other frameworks) and lists it", async () => {
    const dir = tempDir();
    const r = await cli(dir, ["models", "pull", "kefu-test/tiny-bert"], { HF_ENDPOINT: hub.url });
    expect(r.err).toContain(`from ${hub.url}`);
    expect(r.code).toBe(0);
    const model = join(dir, "models", "kefu-test", "tiny-bert");
    for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "modules.json", "1_Pooling/config.json", "onnx/model_quantized.onnx"]) {
      expect(readFileSync(join(model, f))).toEqual(readFileSync(join(src, "bert", f)));
    }
    for (const f of ["onnx/model.onnx", "README.md", "model.safetensors"]) expect(existsSync(join(model, f))).toBe(false);
    writeFileSync(join(dir, "config.toml"), '[kb]\nembedder = "onnx"\n[models.embedder]\nmodel = "kefu-test/tiny-bert"\n');
    const list = await cli(dir, ["models", "list", "--json"]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.out).models).toMatchObject([{ name: "kefu-test/tiny-bert", dtypes: ["q8"], modelType: "bert", repo: "kefu-test/tiny-bert", in_use: ["embedder"] }]);
    const table = await cli(dir, ["models", "list"]);
    expect(table.out).toMatch(/^NAME\s+SIZE\s+DTYPE\s+TYPE\s+IN USE\nkefu-test\/tiny-bert\s+[\d.]+ MB\s+q8\s+bert\s+embedder$/m);
  }, 15_000);

  test("an interrupted download resumes with a Range request; a second pull downloads nothing", async () => {
    const dir = tempDir();
    const file = "onnx/model.onnx";
    hub.interruptOnce(file);
    const opts = { endpoint: hub.url, repo: "kefu-test/tiny-bert", dtype: "fp32" as const, dir };
    await expect(pullModel(opts)).rejects.toMatchObject({ code: "hub_interrupted" });
    const part = join(dir, "kefu-test", "tiny-bert", `${file}.part`);
    const partial = Bun.file(part).size;
    expect(partial).toBeGreaterThan(0);
    const before = hub.requests.length;
    const r = await pullModel(opts);
    const resumed = r.files.find((f) => f.path === file)!;
    expect(resumed.resumedFrom).toBe(partial);
    expect(hub.requests.slice(before).find((q) => q.path.endsWith(file))?.range).toBe(`bytes=${partial}-`);
    expect(readFileSync(join(dir, "kefu-test", "tiny-bert", file))).toEqual(readFileSync(join(src, "bert", file)));
    expect(existsSync(part)).toBe(false);
    const again = await pullModel(opts);
    expect(again.bytes).toBe(0);
    expect(again.files.every((f) => f.skipped)).toBe(true);
  }, 15_000);

  test("a file whose sha256 does not match the listing is rejected and deleted", async () => {
    const dir = tempDir();
    hub.corruptSha("kefu-test/tiny-bert", "onnx/model_quantized.onnx");
    const r = await cli(dir, ["models", "pull", "kefu-test/tiny-bert", "--dtype", "q8"], { HF_ENDPOINT: hub.url });
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/onnx\/model_quantized\.onnx: sha256 [0-9a-f]{64} does not match the hub's 0{64}/);
    const model = join(dir, "models", "kefu-test", "tiny-bert");
    expect(existsSync(join(model, "onnx", "model_quantized.onnx"))).toBe(false);
    expect(existsSync(join(model, "onnx", "model_quantized.onnx.part"))).toBe(false);
  }, 15_000);

  test("an unknown repo or revision is a clear error", async () => {
    await expect(pullModel({ endpoint: hub.url, repo: "kefu-test/nope", dtype: "q8", dir: tempDir() })).rejects.toMatchObject({ code: "hub_not_found" });
    await expect(pullModel({ endpoint: hub.url, repo: "kefu-test/tiny-bert", revision: "v9", dtype: "q8", dir: tempDir() })).rejects.toMatchObject({ code: "hub_not_found" });
    await expect(pullModel({ endpoint: hub.url, repo: "../etc", dtype: "q8", dir: tempDir() })).rejects.toMatchObject({ code: "usage" });
  }, 15_000);
});

test("[models] allow_remote: a missing embedder is pulled from the endpoint at start, then loaded", async () => {
  const { startModels } = await import("../src/models/runtime");
  const { collectingLogger, modelsConfig } = await import("./fixtures/models");
  const dir = tempDir();
  const { log, lines } = collectingLogger();
  const rt = await startModels({ config: modelsConfig({ dir: "./models", allow_remote: true, endpoint: hub.url, embedder: { model: "kefu-test/copy" } }), embedder: "onnx", baseDir: dir, log });
  try {
    expect(rt.embedder?.dim).toBe(64);
    expect(existsSync(join(dir, "models", "kefu-test", "copy", "onnx", "model_quantized.onnx"))).toBe(true);
    expect(lines.map((l) => l.msg)).toContain("model pulled");
  } finally {
    await rt.close();
  }
}, 15_000);
