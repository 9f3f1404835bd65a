import type { KefuConfig } from "../config/schema";
import { type BreakerStrategy, failureRateStrategy } from "../llm/breaker";
import type { RegistryDeps } from "../llm/registry";
import type { PluginHost } from "./host";

/**
 * The LLM providers' breaker strategy when a plugin declares `breaker`: its `shouldOpen` decides instead of
 * `[llm] breaker_failure_rate`. The plugin runs in its worker, so its verdict arrives after the breaker
 * asked: a "yes" opens the breaker at the provider's next recorded outcome (one more call may reach the
 * provider). Without such a plugin — or while it is not active — the configured failure-rate strategy
 * decides, as before. Hot reload applies: the strategy asks whichever version is loaded.
 */
export function pluginBreakerStrategy(host: Pick<PluginHost, "breakerPlugin" | "breakerVerdict">, fallback: BreakerStrategy, provider: string): BreakerStrategy {
  let openNext = false;
  return {
    get name() {
      const p = host.breakerPlugin();
      return p ? `plugin:${p}` : fallback.name;
    },
    shouldOpen(window, outcome) {
      if (!host.breakerPlugin()) return fallback.shouldOpen(window, outcome);
      if (openNext) {
        openNext = false;
        return true;
      }
      const error = outcome.ok ? null : String((outcome.error as Error | undefined)?.message ?? outcome.error ?? "failed");
      void host.breakerVerdict({ provider, ...window }, { ok: outcome.ok, error }).then((open) => {
        if (open) openNext = true;
      });
      return false;
    },
    openDurationMs: (n, ms) => fallback.openDurationMs?.(n, ms) ?? ms,
    onClose() {
      openNext = false;
      fallback.onClose?.();
    },
  };
}

/** The registry's dependencies with the plugin-aware breaker strategy (unless a test set its own). */
export function withPluginBreaker(deps: RegistryDeps | undefined, host: PluginHost, llm: KefuConfig["llm"]): RegistryDeps {
  if (deps?.strategy) return deps;
  return {
    ...deps,
    strategy: (cfg) => pluginBreakerStrategy(host, failureRateStrategy({ failureRate: llm.breaker_failure_rate, minRequests: llm.breaker_min_requests }), cfg.name),
  };
}
