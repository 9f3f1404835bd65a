import { staticPlugin } from "@elysiajs/static";
import { Elysia } from "elysia";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { accessPlugin } from "../auth/access";
import { embedded } from "../platform/embedded";

const sourcePublicDir = resolve(import.meta.dir, "../../public");

/**
 * Static front-end files (public). Order of preference: `server.public_dir` from config, the
 * files embedded in the compiled binary, then ./public of the source tree.
 */
export function staticFiles(publicDir: string, baseDir: string, access: ReturnType<typeof accessPlugin>) {
  if (publicDir) return staticPlugin({ assets: resolve(baseDir, publicDir), prefix: "/", indexHTML: true });
  const files = embedded.publicFiles;
  if (Object.keys(files).length > 0) {
    const serve = (path: string) => {
      const file = files[path] ?? files[path.replace(/\/?$/, "/index.html")];
      return file ? new Response(Bun.file(file)) : undefined;
    };
    const app = new Elysia({ name: "static-embedded" }).use(access);
    for (const urlPath of Object.keys(files)) {
      app.get(urlPath, () => serve(urlPath), { access: "public" });
      if (urlPath.endsWith("/index.html")) app.get(urlPath.slice(0, -"index.html".length), () => serve(urlPath), { access: "public" });
    }
    return app;
  }
  if (existsSync(sourcePublicDir)) return staticPlugin({ assets: sourcePublicDir, prefix: "/", indexHTML: true });
  return new Elysia({ name: "static-none" });
}
