import { type Static, Type as t } from "@sinclair/typebox";

/** `[metrics]`: the Prometheus endpoint (src/ops/metrics). */
export const metricsSection = t.Object(
  {
    token: t.String({
      default: "",
      description:
        "Bearer token Prometheus sends to GET /metrics on the main port (Authorization: Bearer <token>; in Prometheus: authorization.credentials). Empty (the default): no /metrics endpoint. Use a long random string, e.g. `openssl rand -hex 32`, or set KEFU_METRICS_TOKEN.",
    }),
  },
  { additionalProperties: false, description: "Prometheus metrics at /metrics." },
);

export type MetricsConfig = Static<typeof metricsSection>;
