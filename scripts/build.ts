/**
 * Builds the single-file binary: `bun run build [--target bun-linux-arm64 ...]`.
 * Builds and embeds the front ends (src/web) and the target's sqlite-vec extension by replacing
 * src/platform/embedded.ts with a module that imports them `with { type: "file" }`.
 */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { buildWeb, gzipSize, WIDGET_BUDGET_BYTES } from "../src/server/web-build";
import { parseArgs } from "node:util";

const root = resolve(import.meta.dir, "..");
const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { target: { type: "string", default: "bun-linux-x64" }, outfile: { type: "string" } },
});
const target = values.target!;
const platformOf: Record<string, { pkg: string; ext: string; exe: string }> = {
  "bun-linux-x64": { pkg: "sqlite-vec-linux-x64", ext: "so", exe: "" },
  "bun-linux-arm64": { pkg: "sqlite-vec-linux-arm64", ext: "so", exe: "" },
  "bun-darwin-arm64": { pkg: "sqlite-vec-darwin-arm64", ext: "dylib", exe: "" },
  "bun-darwin-x64": { pkg: "sqlite-vec-darwin-x64", ext: "dylib", exe: "" },
  "bun-windows-x64": { pkg: "sqlite-vec-windows-x64", ext: "dll", exe: ".exe" },
};
const plat = platformOf[target];
if (!plat) throw new Error(`unsupported target ${target}; one of ${Object.keys(platformOf).join(", ")}`);

// npm installs only the host's sqlite-vec binary; fetch other targets' packages on demand.
let vecPath = join(root, "node_modules", plat.pkg, `vec0.${plat.ext}`);
if (!existsSync(vecPath)) {
  const version = (await Bun.file(join(root, "node_modules/sqlite-vec/package.json")).json()).version;
  const dir = join(root, "dist", ".native", plat.pkg);
  vecPath = join(dir, "package", `vec0.${plat.ext}`);
  if (!existsSync(vecPath)) {
    console.log(`fetching ${plat.pkg}@${version} from the npm registry`);
    const p = Bun.spawnSync(["bash", "-c", `mkdir -p '${dir}' && cd '${dir}' && npm pack --silent ${plat.pkg}@${version} && tar xzf *.tgz`], { stdio: ["ignore", "inherit", "inherit"] });
    if (p.exitCode !== 0 || !existsSync(vecPath)) throw new Error(`could not fetch ${plat.pkg}`);
  }
}

// The front ends are built here and embedded, so the binary serves them without src/web.
const web = await buildWeb();
const webOut = join(root, "dist", ".web");
rmSync(webOut, { recursive: true, force: true });
const webFiles = [...web].map(([url, file], i) => {
  const path = join(webOut, `${i}-${basename(url) || "index"}`);
  mkdirSync(webOut, { recursive: true });
  writeFileSync(path, file.body);
  return { url, path, type: file.type };
});
const widget = web.get("/widget.js");
if (widget) {
  const gz = gzipSize(widget.body);
  console.log(`widget.js: ${(widget.body.length / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped (budget ${WIDGET_BUDGET_BYTES / 1024} KB)`);
  if (gz > WIDGET_BUDGET_BYTES) throw new Error("widget.js is over its gzipped size budget");
}

const embeddedModule = [
  `import vec from ${JSON.stringify(vecPath)} with { type: "file" };`,
  ...webFiles.map((f, i) => `import w${i} from ${JSON.stringify(f.path)} with { type: "file" };`),
  `export const embedded = { vecExtension: vec, webFiles: {`,
  ...webFiles.map((f, i) => `  ${JSON.stringify(f.url)}: { path: w${i}, type: ${JSON.stringify(f.type)} },`),
  `} };`,
].join("\n");

// Local models (src/models, issue #15): the model worker is a second entrypoint; transformers.js is made
// bundleable: sharp (images only) is stubbed, onnxruntime-node is imported statically, and its native addon
// plus libonnxruntime are embedded and extracted side by side at run time (src/models/native-binding.ts).
const ortDir = join(root, "node_modules", "onnxruntime-node");
const ortVersion = (await Bun.file(join(ortDir, "package.json")).json()).version as string;
const ortArch = { "bun-linux-x64": "linux/x64", "bun-linux-arm64": "linux/arm64" }[target];
const ortBin = ortArch ? join(ortDir, "bin", "napi-v6", ortArch) : null;
const nativeOrt = ortBin !== null && existsSync(join(ortBin, "onnxruntime_binding.node"));
const bindingModule = nativeOrt
  ? [
      `import addon from ${JSON.stringify(join(ortBin!, "onnxruntime_binding.node"))} with { type: "file" };`,
      `import lib from ${JSON.stringify(join(ortBin!, "libonnxruntime.so.1"))} with { type: "file" };`,
      `import { loadEmbeddedBinding } from ${JSON.stringify(join(root, "src/models/native-binding.ts"))};`,
      `import { isMainThread } from "node:worker_threads";`,
      `import { env, Tensor } from "onnxruntime-common";`,
      `export const binding = loadEmbeddedBinding(addon, lib, ${JSON.stringify(ortVersion)});`,
      `const levels = { verbose: 0, info: 1, warning: 2, error: 3, fatal: 4 };`,
      `let initialized = false;`,
      `export const initOrt = () => { if (initialized) return; initialized = true; binding.initOrtOnce(levels[env.logLevel] ?? 2, Tensor, isMainThread); };`,
    ].join("\n")
  : [
      // No native library for this target: onnxruntime-node registers no backend, and [models] backend = "wasm" works.
      `const missing = () => { throw new Error("the native onnxruntime is not in this build (${target}): set [models] backend = \\"wasm\\""); };`,
      `export const binding = { listSupportedBackends: () => [], InferenceSession: missing };`,
      `export const initOrt = missing;`,
    ].join("\n");

// backend = "wasm": onnxruntime-web's loader and .wasm, embedded (src/models/wasm-files.ts), never a CDN.
const ortWebDist = join(root, "node_modules", "onnxruntime-web", "dist");
const ortWebVersion = (await Bun.file(join(root, "node_modules", "onnxruntime-web", "package.json")).json()).version as string;
const wasmModule = [
  `import mjs from ${JSON.stringify(join(ortWebDist, "ort-wasm-simd-threaded.mjs"))} with { type: "file" };`,
  `import wasm from ${JSON.stringify(join(ortWebDist, "ort-wasm-simd-threaded.wasm"))} with { type: "file" };`,
  `export const embeddedWasm = { mjs, wasm, version: ${JSON.stringify(ortWebVersion)} };`,
].join("\n");

const outfile = values.outfile ?? join(root, "dist", target === "bun-linux-x64" ? "kefu" : `kefu-${target.replace(/^bun-/, "")}${plat.exe}`);
const result = await Bun.build({
  // The knowledge-base search worker (src/kb/search-pool.ts) is an entrypoint too: kb/search-worker.js in the binary.
  entrypoints: [join(root, "src/cli/main.ts"), join(root, "src/models/worker.ts"), join(root, "src/kb/search-worker.ts")],
  compile: { target: target as Bun.Build.CompileTarget, outfile },
  minify: true,
  // Precompiled bytecode: the binary skips parsing its 4 MB of JavaScript at every start (kefu --version
  // 70 → 20 ms; issue 13's cold start). ESM, because the entry points use top-level await.
  bytecode: true,
  format: "esm",
  plugins: [
    {
      name: "kefu-embed",
      setup(build) {
        build.onLoad({ filter: /src[\\/]platform[\\/]embedded\.ts$/ }, () => ({ contents: embeddedModule, loader: "ts" }));
        build.onResolve({ filter: /^sharp$/ }, () => ({ path: "sharp-stub", namespace: "kefu-stub" }));
        build.onLoad({ filter: /.*/, namespace: "kefu-stub" }, () => ({
          contents: `export default function sharp() { throw new Error("image input is not supported in the kefu binary"); }`,
          loader: "js",
        }));
        build.onLoad({ filter: /@huggingface[\\/]transformers[\\/]dist[\\/]transformers\.node\.mjs$/ }, async (args) => {
          const src = await Bun.file(args.path).text();
          const dynamic = 'var onnx_node_default = requireFromHere("onnxruntime-node");';
          if (!src.includes(dynamic)) throw new Error("transformers.js changed how it loads onnxruntime-node: update scripts/build.ts");
          return { contents: `import __ortNode from "onnxruntime-node";\n${src.replace(dynamic, "var onnx_node_default = __ortNode;")}`, loader: "js" };
        });
        build.onLoad({ filter: /onnxruntime-node[\\/]dist[\\/]binding\.js$/ }, () => ({ contents: bindingModule, loader: "ts" }));
        build.onLoad({ filter: /src[\\/]models[\\/]wasm-files\.ts$/ }, () => ({ contents: wasmModule, loader: "ts" }));
      },
    },
  ],
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built ${relative(process.cwd(), outfile)} (${target}, ${(statSync(outfile).size / 1e6).toFixed(1)} MB)`);
