import type { Database } from "bun:sqlite";
import { hostname } from "node:os";
import { type BusHealth, createRedisBus } from "../cluster/bus-redis";
import { type Coordinator, createLocalCoordinator, createRedisCoordinator } from "../cluster/coordinator";
import type { KefuConfig } from "../config/schema";
import { createInProcessBus, type EventBus } from "../events/bus";
import type { Logger } from "../log/logger";
import { createPostgresSql } from "../storage/postgres/driver";
import { migratePostgres } from "../storage/postgres/migrations";
import type { Sql } from "../storage/sql";
import { createSqliteSql } from "../storage/sqlite-driver";

/** The roles one node of a cluster leads at a time (src/ops/jobs.ts, src/answer/off-hours.ts). */
export const LEADER_ROLES = ["jobs", "off-hours"] as const;

/**
 * What makes a node one of several: the shared store, the event bus and the coordinator (locks, leases,
 * leadership). On one node (the default) these are the SQLite driver over the node's own database, the
 * in-process bus and in-process locks; with `[storage] driver = "postgres"` and `[cluster] bus = "redis"`
 * they are PostgreSQL and Redis (docs/cluster.md).
 */
export interface NodeServices {
  nodeId: string;
  clustered: boolean;
  sql: Sql;
  bus: EventBus;
  coordinator: Coordinator;
  /** The Redis bus's state for /metrics and /readyz (cluster mode only). */
  busHealth?: () => BusHealth;
  /** Closes the bus, the coordinator and the store's driver (the PostgreSQL pool; not the node's own SQLite database). */
  close(): Promise<void>;
}

export const defaultNodeId = () => `${hostname().replace(/[^A-Za-z0-9._-]/g, "-")}-${process.pid}`;

export async function openNodeServices(config: KefuConfig, db: Database, log: Logger): Promise<NodeServices> {
  const nodeId = config.cluster.node_id || defaultNodeId();
  const onHandlerError = (err: unknown, topic: string) => log.error("event handler failed", { topic, err });
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch((err) => log.warn("closing a cluster connection failed", { err }));
  };
  try {
    let sql: Sql;
    if (config.storage.driver === "postgres") {
      const pg = await createPostgresSql({ url: config.storage.url, max: config.storage.pool, queryTimeoutMs: config.storage.query_timeout_ms, log });
      closers.push(() => pg.close());
      const { applied } = await migratePostgres(pg);
      if (applied.length) log.info("PostgreSQL schema migrated", { applied });
      sql = pg;
    } else {
      const sqlite = createSqliteSql(db);
      // Before the database is checkpointed and closed: stores the group commit still queued and waits for
      // the WAL syncs in flight.
      closers.push(() => sqlite.close());
      sql = sqlite;
    }
    if (config.cluster.bus !== "redis") {
      return { nodeId, clustered: false, sql, bus: createInProcessBus(onHandlerError), coordinator: createLocalCoordinator(nodeId), close };
    }
    const bus = await createRedisBus({ url: config.cluster.url, nodeId, log, canaryIntervalMs: config.cluster.canary_interval_ms, onHandlerError });
    closers.push(() => bus.close());
    const coordinator = await createRedisCoordinator({ url: config.cluster.url, nodeId, log, roles: [...LEADER_ROLES] });
    closers.push(() => coordinator.close());
    log.info("cluster mode", { node_id: nodeId, storage: config.storage.driver, bus: "redis" });
    return { nodeId, clustered: true, sql, bus, coordinator, busHealth: () => bus.health(), close };
  } catch (err) {
    await close();
    throw err;
  }
}
