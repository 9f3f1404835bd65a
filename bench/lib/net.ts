/** A TCP port free right now on 127.0.0.1 (for child processes that need a fixed port). */
export async function freePort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const p = s.port!;
  await s.stop(true);
  return p;
}

/** Waits until `url` answers with a 2xx (a child server has started). */
export async function waitListening(url: string, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await Bun.sleep(10);
  }
  throw new Error(`nothing answered at ${url} within ${timeoutMs} ms`);
}
