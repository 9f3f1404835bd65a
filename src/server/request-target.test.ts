import { describe, expect, test } from "bun:test";
import { checkRequestTarget } from "./request-target";

/**
 * checkRequestTarget gets `request.url` as Bun builds it: `http://` + the Host header + the origin-form
 * target, or the bare target when the Host header is missing, empty or not a host name. The URLs below
 * are written the way Bun writes them (checked against Bun.serve: it lowercases the host and drops a
 * default port, and gives the bare path for `Host: a b`, `Host: evil/x` and `Host:`).
 */
const at = (host: string, target: string) => `http://${host}${target}`;
const ok = (url: string, host: string | null, method = "GET") => checkRequestTarget(url, host, method);
const refused = (url: string, host: string | null, method = "GET") => {
  const v = checkRequestTarget(url, host, method);
  return v.ok ? `accepted as ${v.path}` : "refused";
};

describe("checkRequestTarget: good targets", () => {
  test("an ordinary path passes and the path read back excludes the query", () => {
    expect(ok(at("127.0.0.1:8080", "/api/auth/me"), "127.0.0.1:8080")).toEqual({ ok: true, path: "/api/auth/me" });
    expect(ok(at("kefu.example.com", "/api/admin/users?limit=5"), "kefu.example.com")).toEqual({ ok: true, path: "/api/admin/users" });
    expect(ok(at("localhost", "/"), "localhost")).toEqual({ ok: true, path: "/" });
    expect(ok(at("[::1]:8080", "/healthz"), "[::1]:8080")).toEqual({ ok: true, path: "/healthz" });
    expect(ok(at("example.com.", "/x"), "example.com.")).toEqual({ ok: true, path: "/x" });
  });

  test("dots inside a segment and ordinary percent-escapes are not dot segments", () => {
    for (const p of ["/.well-known/security.txt", "/api/x..y", "/api/...", "/api/a.b/c", "/api/conversations/c-1%20x/messages", "/api/%e4%bd%a0"]) {
      expect({ p, v: ok(at("h.example", p), "h.example") }).toEqual({ p, v: { ok: true, path: p } });
    }
  });

  test("the query string is not held to the path rules (a redirect parameter may contain // or %2f)", () => {
    expect(ok(at("h.example", "/api/x?next=//evil.example/%2f..%2F"), "h.example")).toEqual({ ok: true, path: "/api/x" });
  });
});

describe("checkRequestTarget: paths the router and a guard could read differently are refused", () => {
  const bad = [
    "//api/admin/users",
    "/api//admin/users",
    "/api/admin/users//",
    "/api/admin%2fusers",
    "/api/admin%2Fusers",
    "/api/admin/users%5c",
    "/api/admin/users%5C",
    "/api/admin/%2e%2e/users",
    "/api/admin/%2E/users",
    "/api/adm%2ein/users",
    "/api/admin/users%00",
    "/api/./admin/users",
    "/api/x/../admin/users",
    "/api/admin/users/.",
    "/api/admin/users/..",
    "/.",
    "/..",
    "/api\\admin/users",
    "/api/admin users",
    "/api/admin\tusers",
    "/api/admin\x00users",
    "/api/admin/users#frag",
    "/api/ädmin",
    `/${"a".repeat(2048)}`,
  ];
  for (const p of bad) {
    test(`refuses ${JSON.stringify(p.length > 60 ? `${p.slice(0, 20)}…(${p.length})` : p)}`, () => {
      expect(refused(at("127.0.0.1", p), "127.0.0.1")).toBe("refused");
    });
  }

  test("targets that are not origin-form are refused", () => {
    expect(refused("*", "127.0.0.1", "OPTIONS")).toBe("refused");
    expect(refused("api/admin/users", "127.0.0.1")).toBe("refused");
    expect(refused(at("127.0.0.1", ""), "127.0.0.1")).toBe("refused");
    expect(refused(at("127.0.0.1", "?x=1"), "127.0.0.1")).toBe("refused");
  });
});

describe("checkRequestTarget: Host header", () => {
  test("Host values that are not a host name are refused (Bun gives the bare path for them)", () => {
    // Bun: Host: evil/x, Host: a b and an empty Host give request.url = the bare path.
    for (const host of ["evil/x", "a b", "", "evil?x", "x"]) {
      expect({ host, v: refused("/api/admin/users", host) }).toEqual({ host, v: "refused" });
    }
    // And in the http://host form too, in case Bun ever writes them verbatim.
    for (const host of ["evil/x", "a b", "evil?x", "evil#x", "user@evil", "evil\\x", "-evil"]) {
      expect({ host, v: refused(at(host, "/api/admin/users"), host) }).toEqual({ host, v: "refused" });
    }
  });

  test("a 3000-character Host is refused, and so is a host label over 63 characters", () => {
    const long = "a".repeat(3000);
    expect(refused(at(long, "/healthz"), long)).toBe("refused");
    const label = `${"a".repeat(64)}.example`;
    expect(refused(at(label, "/healthz"), label)).toBe("refused");
  });

  test("a URL whose authority is not the Host header is refused", () => {
    expect(refused(at("evil.example", "/api/admin/users"), "kefu.example")).toBe("refused");
    // A short Host followed by more "authority": Elysia would route on what follows "http://x".
    expect(refused("http://x/xx/api/admin/users", "x/xx")).toBe("refused");
    expect(refused(at("127.0.0.1", "/healthz"), null)).toBe("refused");
  });

  test("a bare path with a Host header present is refused (the router and URL would disagree)", () => {
    expect(refused("/api/admin/users", "127.0.0.1")).toBe("refused");
    expect(refused("/healthz", "127.0.0.1")).toBe("refused");
  });

  test("without a Host header only GET and HEAD of /healthz and /readyz pass", () => {
    expect(ok("/healthz", null, "GET")).toEqual({ ok: true, path: "/healthz" });
    expect(ok("/healthz", null, "HEAD")).toEqual({ ok: true, path: "/healthz" });
    expect(ok("/readyz", null, "GET")).toEqual({ ok: true, path: "/readyz" });
    expect(ok("/readyz?verbose=1", null, "GET")).toEqual({ ok: true, path: "/readyz" });
    for (const [method, p] of [
      ["POST", "/healthz"],
      ["DELETE", "/readyz"],
      ["GET", "/api/auth/me"],
      ["GET", "/api/admin/users"],
      ["GET", "/"],
      ["GET", "/healthz/"],
      ["GET", "/xx/healthz"],
      ["GET", "/healthz/../api/admin/users"],
    ] as const) {
      expect({ method, p, v: refused(p, null, method) }).toEqual({ method, p, v: "refused" });
    }
  });

  // Regression (fixed in f89fe1a): host names are case-insensitive (RFC 9110 §4.2.3) and Bun lowercases
  // the host when it builds request.url; a verbatim comparison refused every Host with a capital letter.
  test("a Host header with capital letters is accepted (Bun lowercases it in request.url)", () => {
    // What Bun.serve gives for `Host: Kefu.Example.COM:8080` and `Host: [::FFFF:7f00:1]`.
    expect(ok("http://kefu.example.com:8080/healthz", "Kefu.Example.COM:8080")).toEqual({ ok: true, path: "/healthz" });
    expect(ok("http://[::ffff:7f00:1]/healthz", "[::FFFF:7f00:1]")).toEqual({ ok: true, path: "/healthz" });
  });

  // Regression (fixed in f89fe1a): Bun drops a default port from request.url (`Host: kefu.example.com:80`
  // → `http://kefu.example.com/…`); a client or probe that wrote the port explicitly got 400.
  test("a Host header with the default port :80 is accepted (Bun drops it from request.url)", () => {
    expect(ok("http://kefu.example.com/healthz", "kefu.example.com:80")).toEqual({ ok: true, path: "/healthz" });
    expect(ok("http://10.1.2.3/readyz", "10.1.2.3:80")).toEqual({ ok: true, path: "/readyz" });
  });
});
