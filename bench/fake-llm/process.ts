import { freePort, waitListening } from "../lib/net";

/**
 * The fake LLM in its own process, so its work does not share the event loop of the
 * code being measured. Returns its base URL and the process (kill it when done).
 */
export async function spawnFakeLlm(opts: { ttftMs: number; reply: string; tokensPerSecond?: number }) {
  const port = await freePort();
  const proc = Bun.spawn(
    [process.execPath, new URL("./server.ts", import.meta.url).pathname, "--port", String(port), "--ttft-ms", String(opts.ttftMs), "--tps", String(opts.tokensPerSecond ?? 200), "--reply", opts.reply],
    { stdout: "pipe", stderr: "inherit" },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitListening(`${base}/_fake/stats`);
  return { proc, base };
}
