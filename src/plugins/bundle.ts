import { dirname } from "node:path";
// @ts-expect-error: a text import; tsc checks worker.ts itself, which has no default export
import workerSource from "./runtime/worker.ts" with { type: "text" };

/** The module plugins import as "kefu/plugin" (types: plugins/kefu-plugin.d.ts). */
const HOST_MODULE = `
export function definePlugin(plugin) { return plugin; }
export function respond(status, body) { return { __kefu_response: true, status, body }; }
`;

export type BundleResult = { ok: true; code: string; hash: string } | { ok: false; message: string };

/**
 * Bundles one plugin (a file, or a folder's index) with everything it imports, kefu's host module and the
 * worker runtime into one self-contained file. One file per version is what makes hot reload reload the
 * plugin's own helper modules too: Bun's import cache keeps every relative import of a re-imported entry
 * (oven-sh/bun#14435), and a bundle has none. Bun.build works the same inside the compiled binary.
 */
export async function bundlePlugin(entry: string): Promise<BundleResult> {
  const workerEntry = `${entry}.kefu-worker.ts`;
  let result: Awaited<ReturnType<typeof Bun.build>>;
  try {
    result = await Bun.build({
      entrypoints: [workerEntry],
      target: "bun",
      format: "esm",
      plugins: [
        {
          name: "kefu-plugin-host",
          setup(b) {
            b.onResolve({ filter: /\.kefu-worker\.ts$/ }, (a) => ({ path: a.path, namespace: "kefu-worker" }));
            b.onLoad({ filter: /.*/, namespace: "kefu-worker" }, () => ({ contents: workerSource as unknown as string, loader: "ts", resolveDir: dirname(entry) }));
            b.onResolve({ filter: /^kefu:plugin-entry$/ }, () => ({ path: entry }));
            b.onResolve({ filter: /^kefu\/plugin$/ }, () => ({ path: "kefu/plugin", namespace: "kefu-host" }));
            b.onLoad({ filter: /.*/, namespace: "kefu-host" }, () => ({ contents: HOST_MODULE, loader: "js" }));
          },
        },
      ],
    });
  } catch (err) {
    return { ok: false, message: buildMessage(err) };
  }
  if (!result.success || !result.outputs[0]) return { ok: false, message: result.logs.map(String).join("\n") || "bundling failed" };
  const code = await result.outputs[0].text();
  return { ok: true, code, hash: Bun.hash(code).toString(36) };
}

/** Bun.build throws an AggregateError of BuildMessages on syntax and resolution errors. */
function buildMessage(err: unknown): string {
  const errors = (err as AggregateError)?.errors;
  if (Array.isArray(errors) && errors.length) return errors.map((e) => String(e?.message ?? e) + (e?.position ? ` (${e.position.file}:${e.position.line}:${e.position.column})` : "")).join("\n");
  return (err as Error)?.message ?? String(err);
}
