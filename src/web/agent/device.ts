/** "Chrome 120 · Windows · desktop" from a user agent string; good enough for an agent's glance. */
export function describeDevice(ua: string): string {
  const browser =
    match(ua, /MicroMessenger\/([\d.]+)/, "WeChat") ??
    match(ua, /QQBrowser\/([\d.]+)/, "QQ Browser") ??
    match(ua, /UCBrowser\/([\d.]+)/, "UC Browser") ??
    match(ua, /Edg(?:e|A|iOS)?\/([\d.]+)/, "Edge") ??
    match(ua, /OPR\/([\d.]+)/, "Opera") ??
    match(ua, /SamsungBrowser\/([\d.]+)/, "Samsung Internet") ??
    match(ua, /Firefox\/([\d.]+)/, "Firefox") ??
    match(ua, /FxiOS\/([\d.]+)/, "Firefox") ??
    match(ua, /CriOS\/([\d.]+)/, "Chrome") ??
    match(ua, /(?:HeadlessChrome|Chrome|Chromium)\/([\d.]+)/, "Chrome") ??
    match(ua, /Version\/([\d.]+).*Safari/, "Safari");
  const os = /iPhone|iPad|iPod/.test(ua)
    ? "iOS"
    : /Android/.test(ua)
      ? "Android"
      : /Windows/.test(ua)
        ? "Windows"
        : /Mac OS X|Macintosh/.test(ua)
          ? "macOS"
          : /CrOS/.test(ua)
            ? "ChromeOS"
            : /Linux/.test(ua)
              ? "Linux"
              : null;
  const kind = /iPad|Tablet/.test(ua) ? "tablet" : /Mobi|iPhone|Android/.test(ua) ? "mobile" : "desktop";
  return [browser, os, kind].filter(Boolean).join(" · ");
}

function match(ua: string, re: RegExp, name: string): string | null {
  const m = re.exec(ua);
  return m ? `${name} ${m[1].split(".")[0]}` : null;
}
