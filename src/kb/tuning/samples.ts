/**
 * The knowledge base's calibration samples for the threshold curves: those of the last fit in this process
 * when they belong to the current version, else asked again in the background by the same bounded job
 * (`CalibrationJob.collect`: limited in samples and time, yielding every few ms), never twice at once.
 */
import { CalibrationJob, type CollectedSample } from "../calibration-job.ts";
import type { KnowledgeBase } from "../engine.ts";

export type SampleStatus =
  /** Samples of the current version are at hand. */
  | "ready"
  /** The knowledge base is being calibrated (it changed); its samples come with the fit. */
  | "calibrating"
  /** Not kept since start-up (the calibrator was fitted earlier): being asked again in the background. */
  | "computing";

export function createSampleSource(kb: KnowledgeBase, onError?: (err: unknown) => void) {
  let own: { version: number; samples: CollectedSample[] } | null = null;
  let computing: Promise<void> | null = null;
  return {
    /** The samples of the current version, or why not yet (starting the background work when it is ours to do). */
    current(): { status: SampleStatus; version: number; samples: CollectedSample[] | null } {
      const version = kb.version();
      const state = kb.calibrationState();
      if (state.samples?.version === version) return { status: "ready", version, samples: state.samples.samples };
      if (own?.version === version) return { status: "ready", version, samples: own.samples };
      // A fit is running or armed (the knowledge base changed): its samples will be the current ones.
      if (state.running || !state.fresh) return { status: "calibrating", version, samples: null };
      computing ??= new CalibrationJob(kb)
        .collect()
        .then((samples) => {
          if (kb.version() === version) own = { version, samples };
        })
        .catch((err) => onError?.(err))
        .finally(() => {
          computing = null;
        });
      return { status: "computing", version, samples: null };
    },
    /** Resolves when background work started by `current` is done (tests). */
    settled(): Promise<void> {
      return computing ?? Promise.resolve();
    },
  };
}
