/**
 * The floor of the `rest` scenario: a Bun HTTP server whose POST /api/ask reads the JSON body and answers
 * a fixed JSON object, nothing else. Prints {"port": N} on stdout once listening.
 *   bun bench/load/trivial-http.ts
 */
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    if (req.method !== "POST") return new Response("ok");
    const body = (await req.json()) as { text?: string };
    return Response.json({ kind: "kb", text: "Shipping is free on orders of 99 yuan or more.", asked: body.text?.length ?? 0 });
  },
});
console.log(JSON.stringify({ port: server.port }));
