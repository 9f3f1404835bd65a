import { lang, t } from "./i18n";

/** 14:05 today, "12-01 14:05" on another day of this year, "2025-12-01" before. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const now = new Date();
  const hm = d.toLocaleTimeString(lang() === "zh" ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit" });
  if (d.toDateString() === now.toDateString()) return hm;
  const md = `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  if (d.getFullYear() === now.getFullYear()) return `${md} ${hm}`;
  return `${d.getFullYear()}-${md}`;
}

/** "3 min", "2 h": how long ago. */
export function ago(ms: number): string {
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return t("now");
  if (s < 3600) return t("min", Math.floor(s / 60));
  if (s < 86400) return t("hour", Math.floor(s / 3600));
  return t("day", Math.floor(s / 86400));
}

const pad = (n: number) => String(n).padStart(2, "0");
