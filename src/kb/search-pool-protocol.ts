/** Messages between the search pool (`search-pool.ts`) and its workers (`search-worker.ts`). */
import type { Calibrator } from "./calibration.ts";
import type { BriefMatch, EmbeddedSearchOptions, SearchResult, SearchWorkerOptions } from "./engine.ts";

export type SearchToWorker =
  | { type: "init"; file: string; vecPath: string; embedder: { id: string; dim: number }; options: SearchWorkerOptions }
  /** `calibrator` only when it changed since the last request this worker was sent. */
  | { type: "search"; id: number; query: string; vector: Float32Array; options: EmbeddedSearchOptions; version: number; calibrator?: Calibrator }
  | { type: "debug"; action: "exit" | "hang" | "pin"; ms: number }
  | { type: "close" };

export type SearchFromWorker =
  | { type: "ready"; version: number; loadMs: number }
  | { type: "init_error"; message: string }
  | { type: "result"; id: number; result: SearchResult<BriefMatch> }
  /** The worker's snapshot is older than the version the request carried. */
  | { type: "stale"; id: number; version: number }
  | { type: "error"; id: number; message: string }
  | { type: "closed" };
