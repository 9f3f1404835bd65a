/**
 * Files embedded in the compiled binary. Under `bun run` nothing is embedded: the front ends are
 * built from src/web on first request, and sqlite-vec is read from node_modules. scripts/build.ts
 * replaces this module with one that imports the files `with { type: "file" }`.
 */
export const embedded: {
  /** Path (inside the binary's virtual file system) of the sqlite-vec loadable extension. */
  vecExtension: string | null;
  /** URL path ("/widget.js") → embedded front-end file and its content type. */
  webFiles: Record<string, { path: string; type: string }>;
} = { vecExtension: null, webFiles: {} };
