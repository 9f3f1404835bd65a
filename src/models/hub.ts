import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import { dirname, isAbsolute, join, relative } from "node:path";
import { KefuError } from "../errors/kefu-error";

/**
 * Downloading a model from the Hugging Face hub or a mirror (same URL layout):
 *   GET {endpoint}/api/models/{repo}/tree/{revision}?recursive=true  → the file listing (size, lfs.oid = sha256)
 *   GET {endpoint}/{repo}/resolve/{revision}/{path}                  → a file (Range: resumes a .part file)
 * Only what transformers.js needs for one dtype is fetched (JSON/tokenizer files + onnx/model{_quantized}.onnx
 * and its external data). Every file is checked against the listing: its size, and its sha256 (LFS files) or
 * git blob sha1 (small files) before it takes its name; a mismatch deletes the download.
 */

export interface HubFile {
  path: string;
  size: number;
  /** sha256 for LFS files; null for files stored in git (checked by `gitOid`). */
  sha256: string | null;
  gitOid: string | null;
}

export interface PullOptions {
  endpoint: string;
  repo: string;
  revision?: string;
  dtype: "q8" | "fp32";
  /** Directory holding model directories; the model goes to `${dir}/${repo}`. */
  dir: string;
  token?: string;
  fetch?: typeof fetch;
  /** A download that sends nothing for this long is given up (resumable); default 60 s. */
  idleTimeoutMs?: number;
  onProgress?: (p: { file: string; done: number; total: number; fileIndex: number; files: number }) => void;
}

export interface PullResult {
  dir: string;
  files: { path: string; size: number; skipped: boolean; resumedFrom: number }[];
  bytes: number;
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/;
const WEIGHTS_ELSEWHERE = /\.(bin|safetensors|h5|msgpack|ot|pt|pth|ckpt|gguf|onnx|onnx_data|tflite|mlmodel)$/i;

/** The files of a listing that a dtype needs. */
export function selectFiles(files: HubFile[], dtype: "q8" | "fp32"): HubFile[] {
  const stem = dtype === "q8" ? "onnx/model_quantized" : "onnx/model";
  return files.filter((f) => {
    if (f.path === `${stem}.onnx` || f.path.startsWith(`${stem}.onnx_data`)) return true;
    if (f.path.startsWith(".") || /(^|\/)(README|LICENSE)/i.test(f.path) || /\.(md|png|jpg|gif)$/i.test(f.path)) return false;
    if (f.path.startsWith("onnx/") || f.path.includes("openvino/") || WEIGHTS_ELSEWHERE.test(f.path)) return false;
    return /\.(json|txt|model|tiktoken)$/i.test(f.path);
  });
}

async function listing(o: PullOptions, f: typeof fetch, revision: string): Promise<HubFile[]> {
  const url = `${o.endpoint}/api/models/${o.repo}/tree/${encodeURIComponent(revision)}?recursive=true`;
  let res: Response;
  try {
    res = await f(url, { headers: headers(o) });
  } catch (e) {
    throw new KefuError("hub_unreachable", 502, `cannot reach ${o.endpoint} (${(e as Error).message}); set [models] endpoint or HF_ENDPOINT to a mirror`);
  }
  if (res.status === 404 || res.status === 401) throw new KefuError("hub_not_found", 404, `${o.repo}@${revision} not found on ${o.endpoint} (HTTP ${res.status})`);
  if (!res.ok) throw new KefuError("hub_error", 502, `${url}: HTTP ${res.status}`);
  type Row = { type: string; path: string; size: number; oid?: string; lfs?: { oid: string; size: number } };
  let rows: Row[];
  try {
    rows = (await res.json()) as Row[];
    if (!Array.isArray(rows)) throw new Error("not an array");
  } catch (e) {
    throw new KefuError("hub_error", 502, `${url}: not a file listing (${(e as Error).message}); is ${o.endpoint} a Hugging Face hub or mirror?`);
  }
  const files = rows
    .filter((r) => r && r.type === "file")
    .map((r) => ({ path: r.path, size: r.lfs?.size ?? r.size, sha256: r.lfs?.oid ?? null, gitOid: r.lfs ? null : (r.oid ?? null) }));
  for (const f of files) {
    if (typeof f.path !== "string" || !Number.isSafeInteger(f.size) || f.size < 0) throw new KefuError("hub_error", 502, `${url}: a listing row without a path or size (${JSON.stringify(f)})`);
  }
  return files;
}

function headers(o: PullOptions): Record<string, string> {
  return o.token ? { authorization: `Bearer ${o.token}` } : {};
}

/** sha256 (LFS) or git blob sha1 of a file on disk, streamed. */
async function digest(path: string, file: HubFile): Promise<{ ok: boolean; got: string; want: string; kind: string }> {
  const h = file.sha256 ? createHash("sha256") : createHash("sha1");
  if (!file.sha256) h.update(`blob ${statSync(path).size}\0`);
  for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  const got = h.digest("hex");
  const want = file.sha256 ?? file.gitOid ?? got;
  return { ok: got === want, got, want, kind: file.sha256 ? "sha256" : "git sha1" };
}

export async function pullModel(o: PullOptions): Promise<PullResult> {
  if (!REPO_ID.test(o.repo) || o.repo.includes("..")) throw new KefuError("usage", 2, `"${o.repo}" is not a repo id (owner/name)`);
  const f = o.fetch ?? fetch;
  const revision = o.revision ?? "main";
  const all = await listing(o, f, revision);
  const files = selectFiles(all, o.dtype);
  if (!files.some((x) => x.path.endsWith(".onnx"))) {
    const onnx = all.filter((x) => x.path.startsWith("onnx/") && x.path.endsWith(".onnx")).map((x) => x.path);
    throw new KefuError("hub_no_onnx", 404, `${o.repo} has no ${o.dtype === "q8" ? "onnx/model_quantized.onnx" : "onnx/model.onnx"}${onnx.length ? ` (it has ${onnx.join(", ")}; try the other --dtype)` : " (not an ONNX export: look for the Xenova/ or onnx-community/ version)"}`);
  }
  const dest = join(o.dir, o.repo);
  // Every name is checked before anything is written: a listing naming a file outside the model directory is refused whole.
  for (const file of files) {
    if (isAbsolute(file.path) || file.path.includes("\\") || file.path.includes("\0") || file.path.split("/").some((seg) => seg === ".." || seg === "") || relative(dest, join(dest, file.path)).startsWith(".."))
      throw new KefuError("hub_error", 502, `unsafe path in the listing of ${o.repo}: ${JSON.stringify(file.path)}; nothing was downloaded`);
  }
  try {
    mkdirSync(dest, { recursive: true });
  } catch (e) {
    throw pullFsError(e, dest);
  }
  const unlock = lock(dest);
  try {
    return await pullFiles(o, f, revision, files, dest);
  } finally {
    unlock();
  }
}

/**
 * One pull at a time per model directory: two would write the same .part files. The lock file holds the
 * pulling process's pid; one left by a process that is gone is taken over.
 */
function lock(dest: string): () => void {
  const path = join(dest, ".kefu-pull.lock");
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw pullFsError(e, dest);
      const pid = Number(readFileSync(path, "utf8"));
      let alive = false;
      try {
        alive = Number.isInteger(pid) && pid > 0 && process.kill(pid, 0);
      } catch (k) {
        alive = (k as NodeJS.ErrnoException).code === "EPERM";
      }
      if (alive) throw new KefuError("hub_busy", 409, `another kefu models pull (pid ${pid}) is writing ${dest}; wait for it to finish`);
      rmSync(path, { force: true });
    }
  }
}

/** A file-system failure while pulling (read-only or full disk, a file where a directory should be): one clear message. */
function pullFsError(e: unknown, where: string): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (e instanceof KefuError || !code) return e;
  return new KefuError("models_dir_unwritable", 500, `cannot write the model into ${where}: ${code} (${(e as Error).message}); check [models] dir and free disk space`);
}

async function pullFiles(o: PullOptions, f: typeof fetch, revision: string, files: HubFile[], dest: string): Promise<PullResult> {
  const result: PullResult = { dir: dest, files: [], bytes: 0 };
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    const target = join(dest, file.path);
    try {
      mkdirSync(dirname(target), { recursive: true });
    } catch (e) {
      throw pullFsError(e, dirname(target));
    }
    const progress = (done: number) => o.onProgress?.({ file: file.path, done, total: file.size, fileIndex: i, files: files.length });
    if (existsSync(target) && statSync(target).size === file.size && (await digest(target, file)).ok) {
      progress(file.size);
      result.files.push({ path: file.path, size: file.size, skipped: true, resumedFrom: 0 });
      continue;
    }
    const resumedFrom = await download(o, f, revision, file, `${target}.part`, progress);
    const check = await digest(`${target}.part`, file);
    if (!check.ok) {
      rmSync(`${target}.part`, { force: true });
      throw new KefuError("hub_checksum", 502, `${file.path}: ${check.kind} ${check.got} does not match the hub's ${check.want}; the download was deleted (run the pull again; if it repeats, the mirror serves a different file)`);
    }
    renameSync(`${target}.part`, target);
    result.bytes += file.size - resumedFrom;
    result.files.push({ path: file.path, size: file.size, skipped: false, resumedFrom });
  }
  writeFileSync(join(dest, ".kefu-model.json"), JSON.stringify({ repo: o.repo, revision, dtype: o.dtype, endpoint: o.endpoint, pulled_at: new Date().toISOString(), files: files.map((x) => x.path) }, null, 1));
  return result;
}

/** Downloads into `part`, resuming from its current size with a Range request; returns the offset it resumed from. */
async function download(o: PullOptions, f: typeof fetch, revision: string, file: HubFile, part: string, progress: (done: number) => void): Promise<number> {
  try {
    return await downloadOnce(o, f, revision, file, part, progress);
  } catch (e) {
    throw e instanceof KefuError ? e : pullFsError(e, part);
  }
}

async function downloadOnce(o: PullOptions, f: typeof fetch, revision: string, file: HubFile, part: string, progress: (done: number) => void): Promise<number> {
  let have = existsSync(part) ? statSync(part).size : 0;
  if (have > file.size) {
    rmSync(part);
    have = 0;
  }
  if (have === file.size) return have;
  const url = `${o.endpoint}/${o.repo}/resolve/${encodeURIComponent(revision)}/${file.path.split("/").map(encodeURIComponent).join("/")}`;
  const idleMs = o.idleTimeoutMs ?? 60_000;
  const ac = new AbortController();
  let idle = setTimeout(() => ac.abort(), idleMs);
  const alive = () => {
    clearTimeout(idle);
    idle = setTimeout(() => ac.abort(), idleMs);
  };
  let res: Response;
  try {
    res = await f(url, { headers: { ...headers(o), ...(have ? { range: `bytes=${have}-` } : {}) }, redirect: "follow", signal: ac.signal });
  } catch (e) {
    clearTimeout(idle);
    const why = ac.signal.aborted ? `no data for ${idleMs} ms` : (e as Error).message;
    throw new KefuError("hub_unreachable", 502, `${file.path}: ${why} (run the pull again to resume)`);
  }
  if (res.status === 416 && have) {
    // The .part is not a prefix the server can resume (e.g. the file changed): start over, once.
    clearTimeout(idle);
    await res.body?.cancel().catch(() => {});
    rmSync(part, { force: true });
    return downloadOnce(o, f, revision, file, part, progress);
  }
  if (!res.ok) clearTimeout(idle);
  if (!res.ok) throw new KefuError("hub_error", 502, `${url}: HTTP ${res.status}`);
  const resumed = res.status === 206 ? have : 0;
  const fh = await open(part, resumed ? "a" : "w");
  let done = resumed;
  let tooBig = false;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      alive();
      if (done + chunk.length > file.size) {
        // More than the listing announced (or a body that never ends): stop now, not when the disk is full.
        tooBig = true;
        ac.abort();
        break;
      }
      try {
        await fh.write(chunk);
      } catch (e) {
        throw pullFsError(e, part);
      }
      done += chunk.length;
      progress(done);
    }
  } catch (e) {
    if (e instanceof KefuError) throw e; // the disk, not the network
    if (tooBig) return failTooBig(part, file);
    const why = ac.signal.aborted ? `no data for ${idleMs} ms` : (e as Error).message;
    throw new KefuError("hub_interrupted", 502, `${file.path}: download interrupted at ${done} of ${file.size} bytes (${why}); run the pull again to resume`);
  } finally {
    clearTimeout(idle);
    await fh.close();
  }
  if (tooBig) return failTooBig(part, file);
  if (done < file.size) throw new KefuError("hub_interrupted", 502, `${file.path}: download ended at ${done} of ${file.size} bytes; run the pull again to resume`);
  return resumed;
}

function failTooBig(part: string, file: HubFile): never {
  rmSync(part, { force: true });
  throw new KefuError("hub_size", 502, `${file.path}: the server sent more than the ${file.size} bytes the listing gives; the download was deleted`);
}

export interface LocalModel {
  name: string;
  dir: string;
  bytes: number;
  dtypes: ("q8" | "fp32")[];
  modelType: string;
  repo?: string;
  revision?: string;
}

/** Model directories under `root` (one or two levels: name or owner/name), those holding a config.json. */
export function listModels(root: string): LocalModel[] {
  if (!existsSync(root)) return [];
  const out: LocalModel[] = [];
  const visit = (dir: string, depth: number) => {
    if (existsSync(join(dir, "config.json"))) {
      out.push(describe(root, dir));
      return;
    }
    if (depth >= 2) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory() && !e.name.startsWith(".")) visit(join(dir, e.name), depth + 1);
  };
  visit(root, 0);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

function describe(root: string, dir: string): LocalModel {
  let bytes = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else bytes += statSync(join(d, e.name)).size;
    }
  };
  walk(dir);
  const dtypes: ("q8" | "fp32")[] = [];
  if (existsSync(join(dir, "onnx", "model_quantized.onnx"))) dtypes.push("q8");
  if (existsSync(join(dir, "onnx", "model.onnx"))) dtypes.push("fp32");
  const read = (p: string) => {
    try {
      return JSON.parse(readFileSync(join(dir, p), "utf8"));
    } catch {
      return {};
    }
  };
  const manifest = read(".kefu-model.json");
  return { name: relative(root, dir), dir, bytes, dtypes, modelType: String(read("config.json").model_type ?? "?"), repo: manifest.repo, revision: manifest.revision };
}
