import { staticPlugin } from "@elysiajs/static";
import { Elysia } from "elysia";
import { resolve } from "node:path";

/**
 * An operator's own static files (`server.public_dir`), served beside kefu's front ends — e.g. a logo
 * or a page of their own. Empty: nothing extra is served.
 */
export function staticFiles(publicDir: string, baseDir: string) {
  if (publicDir) return staticPlugin({ assets: resolve(baseDir, publicDir), prefix: "/", indexHTML: true });
  return new Elysia({ name: "static-none" });
}
