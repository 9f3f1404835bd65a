import type { Subprocess } from "bun";

/** Reads a child's stderr until a JSON log line with msg "kefu started" appears; returns its port. */
export async function waitForStart(proc: Subprocess<"ignore" | "pipe", "pipe" | "inherit" | "ignore", "pipe">, timeoutMs = 20_000): Promise<{ port: number; stderr: () => string }> {
  let buffer = "";
  const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const deadline = Date.now() + timeoutMs;
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
    }
  })();
  void pump;
  while (Date.now() < deadline) {
    const m = /"msg":"kefu started".*?"url":"http:\/\/[^"]*:(\d+)"/.exec(buffer);
    if (m) return { port: Number(m[1]), stderr: () => buffer };
    if (proc.exitCode !== null) throw new Error(`kefu exited with ${proc.exitCode} before starting:\n${buffer}`);
    await Bun.sleep(20);
  }
  proc.kill("SIGKILL");
  throw new Error(`kefu did not start within ${timeoutMs} ms:\n${buffer}`);
}
