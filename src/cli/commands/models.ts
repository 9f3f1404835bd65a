import { resolve } from "node:path";
import { loadConfig } from "../../config/load";
import { embedderConfig, generatorConfig, rerankerConfig } from "../../models/config";
import { listModels, pullModel } from "../../models/hub";
import { modelPath } from "../../models/model-dir";
import { hubEndpoint } from "../../models/runtime";
import { configFlag, parseFlags, UsageError, type Command } from "../command";

const mb = (n: number) => (n / 1048576).toFixed(1);

/** A progress bar on stderr: redrawn in place on a terminal, one line per file otherwise. */
function progressBar() {
  const tty = process.stderr.isTTY === true;
  let lastFile = "";
  let lastDraw = 0;
  return (p: { file: string; done: number; total: number; fileIndex: number; files: number }) => {
    const pct = p.total ? Math.floor((p.done / p.total) * 100) : 100;
    if (tty) {
      const now = performance.now();
      if (p.done < p.total && now - lastDraw < 100) return;
      lastDraw = now;
      const width = 24;
      const bar = "#".repeat(Math.round((pct / 100) * width)).padEnd(width, ".");
      process.stderr.write(`\r[${p.fileIndex + 1}/${p.files}] ${p.file} [${bar}] ${pct}% ${mb(p.done)}/${mb(p.total)} MB\x1b[K`);
      if (p.done >= p.total) process.stderr.write("\n");
    } else if (p.done >= p.total && p.file !== lastFile) {
      lastFile = p.file;
      process.stderr.write(`[${p.fileIndex + 1}/${p.files}] ${p.file} ${mb(p.total)} MB\n`);
    }
  };
}

export const modelsCommand: Command = {
  name: "models",
  summary: "download ONNX models from the Hugging Face hub or a mirror, and list them",
  usage: `Usage: kefu models pull <repo-id> [--revision REV] [--dtype q8|fp32] [-c config.toml]
       kefu models list [--json] [-c config.toml]

pull downloads what transformers.js needs for one dtype (config and tokenizer
files, onnx/model_quantized.onnx for q8, onnx/model.onnx for fp32) into
<models.dir>/<repo-id>, from [models] endpoint, else HF_ENDPOINT, else
https://huggingface.co. An interrupted download resumes where it stopped; every
file is checked against the hub's size and sha256 before it is kept.
Example: kefu models pull Xenova/bge-small-zh-v1.5

list shows each model directory: name, size, dtypes, and what uses it.`,
  async run(argv) {
    const [sub, ...rest] = argv;
    const { values, positionals } = parseFlags(rest, { ...configFlag, revision: { type: "string" }, dtype: { type: "string" }, json: { type: "boolean" } });
    const { config, baseDir } = loadConfig({ path: values.config });
    const root = resolve(baseDir, config.models.dir);
    if (sub === "pull") {
      const repo = positionals[0];
      if (!repo || positionals.length > 1) throw new UsageError("kefu models pull needs one repo id, e.g. kefu models pull Xenova/bge-small-zh-v1.5");
      const dtype = (values.dtype ?? "q8") as "q8" | "fp32";
      if (dtype !== "q8" && dtype !== "fp32") throw new UsageError("--dtype must be q8 or fp32");
      const endpoint = hubEndpoint(config.models);
      process.stderr.write(`pulling ${repo}${values.revision ? `@${values.revision}` : ""} (${dtype}) from ${endpoint}\n`);
      const r = await pullModel({ endpoint, repo, revision: values.revision, dtype, dir: root, token: process.env.HF_TOKEN, onProgress: progressBar() });
      const resumed = r.files.filter((f) => f.resumedFrom > 0).length;
      console.log(`${r.dir}: ${r.files.length} files, ${mb(r.bytes)} MB downloaded${resumed ? `, ${resumed} resumed` : ""}, ${r.files.filter((f) => f.skipped).length} already there`);
      console.log(`use it: [models.embedder] model = "${repo}" (with [kb] embedder = "onnx"), or [models.reranker] / [models.generator]`);
      return 0;
    }
    if (sub === "list") {
      const used = new Map<string, string[]>();
      const mark = (model: string, role: string) => {
        if (!model) return;
        const dir = modelPath(root, model);
        used.set(dir, [...(used.get(dir) ?? []), role]);
      };
      if (config.kb.embedder === "onnx") mark(embedderConfig(config.models).model, "embedder");
      mark(rerankerConfig(config.models).model, "reranker");
      mark(generatorConfig(config.models).model, "generator");
      const models = listModels(root).map((m) => ({ ...m, in_use: used.get(m.dir) ?? [] }));
      if (values.json) {
        console.log(JSON.stringify({ dir: root, models }));
        return 0;
      }
      if (!models.length) {
        console.log(`no models in ${root} (kefu models pull <repo-id>)`);
        return 0;
      }
      const rows = models.map((m) => [m.name, `${mb(m.bytes)} MB`, m.dtypes.join(",") || "-", m.modelType, m.in_use.join(",") || "-"]);
      const head = ["NAME", "SIZE", "DTYPE", "TYPE", "IN USE"];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const r of [head, ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
      return 0;
    }
    throw new UsageError("kefu models: pull <repo-id> or list (kefu models --help)");
  },
};
