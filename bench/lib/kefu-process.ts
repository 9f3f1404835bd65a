import { join, resolve } from "node:path";

const cli = join(resolve(import.meta.dir, "../.."), "src/cli/main.ts");

/**
 * Starts `kefu serve -c <config>` from source in a child process and resolves with its port once it logs
 * "kefu started" (the config must log at info level). Its stderr is drained afterwards, so the child never
 * blocks on a full pipe.
 */
export async function startKefuProcess(config: string) {
  const proc = Bun.spawn([process.execPath, cli, "serve", "-c", config], { stdout: "ignore", stderr: "pipe" });
  const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited before starting:\n${text}`);
    text += new TextDecoder().decode(value);
    const m = /"msg":"kefu started".*?"url":"http:\/\/[^"]*:(\d+)"/.exec(text);
    if (m) {
      void (async () => {
        while (!(await reader.read()).done);
      })();
      return { proc, port: Number(m[1]) };
    }
  }
}
