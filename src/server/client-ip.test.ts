import { describe, expect, test } from "bun:test";
import { createClientIp, limitKey, plain } from "./client-ip";

const xff = (...values: string[]) => {
  const h = new Headers();
  for (const v of values) h.append("x-forwarded-for", v);
  return h;
};
const behind = (trustedProxies: string[], header = "x-forwarded-for") => createClientIp({ trustedProxies, header });

describe("client IP without trusted proxies", () => {
  const ip = behind([]);

  test("the TCP peer is the client; X-Forwarded-For is ignored whatever it says", () => {
    expect(ip("198.51.100.20", xff("203.0.113.7"))).toBe("198.51.100.20");
    expect(ip("127.0.0.1", xff("203.0.113.7"))).toBe("127.0.0.1");
    expect(ip("127.0.0.1", xff("203.0.113.7, 10.0.0.1"))).toBe("127.0.0.1");
    expect(ip("127.0.0.1", new Headers({ "x-real-ip": "203.0.113.7" }))).toBe("127.0.0.1");
  });

  test("a missing peer address is 'unknown', not a header value", () => {
    expect(ip(undefined, xff("203.0.113.7"))).toBe("unknown");
    expect(ip("", xff("203.0.113.7"))).toBe("unknown");
  });

  test("an IPv4-mapped IPv6 peer is the same client as its IPv4 address", () => {
    expect(ip("::ffff:1.2.3.4", new Headers())).toBe("1.2.3.4");
    expect(ip("::FFFF:1.2.3.4", new Headers())).toBe("1.2.3.4");
    expect(ip("2001:DB8::1", new Headers())).toBe("2001:db8::1");
  });
});

describe("client IP behind a trusted proxy (127.0.0.1)", () => {
  const ip = behind(["127.0.0.1"]);

  test("the proxy's X-Forwarded-For entry is the client", () => {
    expect(ip("127.0.0.1", xff("203.0.113.7"))).toBe("203.0.113.7");
  });

  test("the right-most untrusted entry wins: entries a client wrote further left are ignored", () => {
    // The client sent "X-Forwarded-For: 6.6.6.6, 198.51.100.9"; the proxy appended the real address.
    expect(ip("127.0.0.1", xff("6.6.6.6, 198.51.100.9, 203.0.113.7"))).toBe("203.0.113.7");
    // Two header lines (the client's and the proxy's) read as one list.
    expect(ip("127.0.0.1", xff("6.6.6.6", "203.0.113.7"))).toBe("203.0.113.7");
  });

  test("a peer that is not the trusted proxy cannot choose its address with the header", () => {
    expect(ip("198.51.100.20", xff("203.0.113.7"))).toBe("198.51.100.20");
    expect(ip("127.0.0.2", xff("203.0.113.7"))).toBe("127.0.0.2");
  });

  test("an IPv4-mapped peer (::ffff:127.0.0.1) is recognised as the trusted proxy", () => {
    expect(ip("::ffff:127.0.0.1", xff("203.0.113.7"))).toBe("203.0.113.7");
  });

  test("the proxy sent no header: the proxy is the client", () => {
    expect(ip("127.0.0.1", new Headers())).toBe("127.0.0.1");
    expect(ip("127.0.0.1", xff(""))).toBe("127.0.0.1");
  });

  test("a malformed entry where the proxy's should be: believe nothing beyond the proxy", () => {
    for (const bad of ["garbage", "unknown", "203.0.113.7:5555", "203.0.113.7,", "203.0.113.999", "1.2.3.4 5.6.7.8", "<script>", "_hidden"]) {
      expect({ bad, ip: ip("127.0.0.1", xff(bad)) }).toEqual({ bad, ip: "127.0.0.1" });
    }
    // Garbage to the left of the right-most untrusted entry does not matter.
    expect(ip("127.0.0.1", xff("garbage, 203.0.113.7"))).toBe("203.0.113.7");
  });

  test("forwarded addresses are normalised like peers (one client, one key)", () => {
    expect(ip("127.0.0.1", xff("::ffff:203.0.113.7"))).toBe("203.0.113.7");
    expect(ip("127.0.0.1", xff("[2001:DB8::7]"))).toBe("2001:db8::7");
    expect(ip("127.0.0.1", xff(" 203.0.113.7 "))).toBe("203.0.113.7");
  });
});

describe("client IP behind a chain of trusted proxies", () => {
  test("trusted hops on the right are skipped; the first untrusted one from the right is the client", () => {
    const ip = behind(["127.0.0.1", "10.0.0.2"]);
    expect(ip("127.0.0.1", xff("6.6.6.6, 203.0.113.7, 10.0.0.2"))).toBe("203.0.113.7");
    // A spoofed trusted-looking address on the left does not move the answer.
    expect(ip("127.0.0.1", xff("10.0.0.2, 203.0.113.7, 10.0.0.2"))).toBe("203.0.113.7");
  });

  test("every hop trusted: the left-most address is the client", () => {
    const ip = behind(["127.0.0.1", "10.0.0.2"]);
    expect(ip("127.0.0.1", xff("10.0.0.2"))).toBe("10.0.0.2");
  });

  test("CIDR 10.0.0.0/8: any 10.x peer or hop is trusted, nothing outside it is", () => {
    const ip = behind(["10.0.0.0/8"]);
    expect(ip("10.1.2.3", xff("6.6.6.6, 203.0.113.7, 10.200.0.1, 10.0.0.9"))).toBe("203.0.113.7");
    expect(ip("10.255.255.255", xff("203.0.113.7"))).toBe("203.0.113.7");
    expect(ip("::ffff:10.0.0.1", xff("203.0.113.7"))).toBe("203.0.113.7");
    // Neighbours of the range are clients, not proxies.
    expect(ip("11.0.0.1", xff("203.0.113.7"))).toBe("11.0.0.1");
    expect(ip("9.255.255.255", xff("203.0.113.7"))).toBe("9.255.255.255");
    expect(ip("10.1.2.3", xff("203.0.113.7, 11.0.0.1"))).toBe("11.0.0.1");
    // IPv6 peers never match an IPv4 range.
    expect(ip("::1", xff("203.0.113.7"))).toBe("::1");
  });

  test("other prefix lengths: /24, /32, /0 and a high range", () => {
    expect(behind(["192.168.1.0/24"])("192.168.1.77", xff("203.0.113.7"))).toBe("203.0.113.7");
    expect(behind(["192.168.1.0/24"])("192.168.2.1", xff("203.0.113.7"))).toBe("192.168.2.1");
    expect(behind(["192.168.1.5/32"])("192.168.1.5", xff("203.0.113.7"))).toBe("203.0.113.7");
    expect(behind(["192.168.1.5/32"])("192.168.1.6", xff("203.0.113.7"))).toBe("192.168.1.6");
    expect(behind(["200.0.0.0/8"])("200.9.9.9", xff("203.0.113.7"))).toBe("203.0.113.7");
    expect(behind(["200.0.0.0/8"])("201.0.0.1", xff("203.0.113.7"))).toBe("201.0.0.1");
    expect(behind(["0.0.0.0/0"])("8.8.8.8", xff("203.0.113.7"))).toBe("203.0.113.7");
  });

  test("IPv6 proxies are listed one by one", () => {
    const ip = behind(["::1", "2001:db8::10"]);
    expect(ip("::1", xff("203.0.113.7"))).toBe("203.0.113.7");
    expect(ip("2001:DB8::10", xff("2001:db8::99"))).toBe("2001:db8::99");
    expect(ip("2001:db8::11", xff("203.0.113.7"))).toBe("2001:db8::11");
  });

  test("another header (X-Real-IP) is read when configured, and X-Forwarded-For is then ignored", () => {
    const ip = behind(["127.0.0.1"], "x-real-ip");
    expect(ip("127.0.0.1", new Headers({ "x-real-ip": "203.0.113.7", "x-forwarded-for": "6.6.6.6" }))).toBe("203.0.113.7");
    expect(ip("127.0.0.1", new Headers({ "x-forwarded-for": "6.6.6.6" }))).toBe("127.0.0.1");
  });

  test("a rule that cannot be understood stops start-up instead of trusting something else", () => {
    expect(() => behind(["fe80::/10"])).toThrow(/IPv4 only/);
    expect(() => behind(["10.0.0.0/33"])).toThrow(/prefix length/);
    expect(() => behind(["10.0.0.0/x"])).toThrow(/prefix length/);
    expect(() => behind(["10.0.0.0/-1"])).toThrow(/prefix length/);
  });

  // Regression (fixed in f89fe1a; `Number("")` is 0): the typo "10.0.0.0/" was read as /0, which
  // trusted every IPv4 peer, so any client could pick its own address with X-Forwarded-For (a fresh
  // login allowance per request). It is refused at start-up like "/33".
  test("a rule with an empty prefix length ('10.0.0.0/') is refused, not read as /0", () => {
    expect(() => behind(["10.0.0.0/"])).toThrow(/prefix length/);
  });
});

describe("plain()", () => {
  test("brackets, IPv4-mapped prefixes and case are removed", () => {
    expect(plain("[::1]")).toBe("::1");
    expect(plain("::ffff:1.2.3.4")).toBe("1.2.3.4");
    expect(plain(" 1.2.3.4 ")).toBe("1.2.3.4");
    expect(plain("2001:DB8::A")).toBe("2001:db8::a");
    // Only a real IPv4 address after ::ffff: is unwrapped.
    expect(plain("::ffff:abcd")).toBe("::ffff:abcd");
  });
});

describe("limitKey: the address per-address limits count", () => {
  test("an IPv4 address is itself", () => {
    expect(limitKey("203.0.113.7")).toBe("203.0.113.7");
  });
  test("IPv6 addresses of one /64 share a key, however they are written; another /64 does not", () => {
    const k = limitKey("2001:db8:0:1::1");
    expect(limitKey("2001:0db8:0000:0001:aaaa:bbbb:cccc:dddd")).toBe(k);
    expect(limitKey("2001:db8:0:1:ffff::2")).toBe(k);
    expect(limitKey("2001:db8:0:2::1")).not.toBe(k);
    expect(limitKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
  });
});
