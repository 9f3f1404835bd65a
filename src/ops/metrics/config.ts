import { type Static, Type as t } from "@sinclair/typebox";

/** `[metrics]`: the Prometheus endpoint (src/ops/metrics). */
export const metricsSection = t.Object(
  {
    token: t.String({
      default: "",
      description:
        "Bearer token Prometheus sends to GET /metrics (Authorization: Bearer <token>; in Prometheus: authorization.credentials). Set: /metrics is served on the main port for this token, and listen (if set) asks for it too. Empty (the default): no /metrics on the main port. Use a long random string, e.g. `openssl rand -hex 32`, or set KEFU_METRICS_TOKEN.",
    }),
    listen: t.String({
      default: "",
      pattern: "^$|^(\\[[0-9A-Fa-f:.]+\\]|[^\\s:\\[\\]]+):\\d{1,5}$",
      description:
        'A separate address serving only GET /metrics, e.g. "127.0.0.1:9464" or "[::1]:9464" (port 0 picks a free one). Bind it to a private interface: without a token it answers anyone who can reach it. Empty (the default): no separate listener.',
    }),
  },
  { additionalProperties: false, description: "Prometheus metrics at /metrics." },
);

export type MetricsConfig = Static<typeof metricsSection>;
