import { Type as t, type TObject } from "@sinclair/typebox";

/**
 * Foundation config sections. Every key carries its default and a description:
 * the commented config.toml (`kefu init`) and docs/config.md are generated from
 * these schemas, so the documentation cannot drift from what is validated.
 */
export const serverSection = t.Object(
  {
    host: t.String({ default: "0.0.0.0", description: "Address to listen on. Use 127.0.0.1 to accept local connections only." }),
    port: t.Integer({ default: 8080, minimum: 0, maximum: 65535, description: "TCP port to listen on (0 picks a free port)." }),
    public_dir: t.String({ default: "", description: "Directory of extra static files to serve beside the built-in pages (e.g. your logo); the built-in pages (/, /widget.js, /chat, /agent) take precedence. Empty: none." }),
    max_body_bytes: t.Integer({ default: 64 * 1024, minimum: 1024, maximum: 64 * 1024 * 1024, description: "Largest request body, in bytes, on every route but knowledge imports (login takes 4 KiB at most). Checked from Content-Length before the body is sent, and while reading." }),
    max_import_bytes: t.Integer({ default: 20 * 1024 * 1024, minimum: 1024, maximum: 1024 * 1024 * 1024, description: "Largest request body of POST /api/admin/kb/import, in bytes (admins only)." }),
    trusted_proxies: t.Array(t.String({ minLength: 1 }), {
      default: [],
      description: "Addresses of reverse proxies (IPs, or IPv4 CIDR ranges such as 10.0.0.0/8) whose client_ip_header is believed. Empty: the TCP peer is the client, and forwarding headers are ignored.",
    }),
    client_ip_header: t.String({ default: "x-forwarded-for", pattern: "^[A-Za-z0-9-]+$", description: "Header a trusted proxy puts the client address in (X-Forwarded-For: the right-most untrusted address counts; or e.g. X-Real-IP)." }),
    allowed_origins: t.Array(t.String({ minLength: 1 }), {
      default: [],
      description: "Web origins (scheme://host[:port]) allowed to embed the chat widget: checked on the visitor WebSocket's Origin and answered with CORS on the visitor REST routes. Empty: same origin only. \"*\" allows any origin (only when listed explicitly).",
    }),
    shutdown_timeout_ms: t.Integer({ default: 8000, minimum: 100, maximum: 60000, description: "Time allowed for in-flight work during graceful shutdown before exiting anyway." }),
  },
  { additionalProperties: false, description: "HTTP and WebSocket listener." },
);

export const storageSection = t.Object(
  {
    dir: t.String({ default: "./data", description: "Directory holding the SQLite database (kefu.db) and its WAL files. Relative paths are resolved against the config file's directory." }),
    busy_timeout_ms: t.Integer({ default: 5000, minimum: 0, maximum: 600000, description: "How long a statement waits for a lock held by another connection before failing." }),
    driver: t.Union([t.Literal("sqlite"), t.Literal("postgres")], {
      default: "sqlite",
      description: "Where the shared data (conversations, messages, visitors, accounts, settings, audit, tickets, the knowledge base's source) lives: sqlite (kefu.db in dir, one node) or postgres (url; cluster mode, several nodes). With postgres, dir still holds each node's own search index and local files. See docs/cluster.md.",
    }),
    url: t.String({ default: "", description: "PostgreSQL connection URL when driver = \"postgres\", e.g. postgres://kefu:secret@db.internal:5432/kefu (prefer KEFU_STORAGE_URL to keep the password out of the file)." }),
    pool: t.Integer({ default: 16, minimum: 1, maximum: 500, description: "PostgreSQL connections this node opens at most (driver = \"postgres\")." }),
    query_timeout_ms: t.Integer({
      default: 30000,
      minimum: 0,
      maximum: 600000,
      description:
        "driver = \"postgres\": a statement (or the wait for a pooled connection) unanswered this long fails with 503 storage_unavailable instead of hanging the request (a paused server, a half-open link). 0 waits for ever. Keep it above your slowest legitimate statement (a large import, kefu migrate-storage).",
    }),
  },
  { additionalProperties: false, description: "Storage: embedded SQLite, or PostgreSQL in cluster mode." },
);

export const clusterSection = t.Object(
  {
    bus: t.Union([t.Literal("local"), t.Literal("redis")], {
      default: "local",
      description: "How nodes deliver events (messages, typing, state changes, presence) to each other's sockets: local (one node, in-process) or redis (url). Several nodes need redis and storage.driver = \"postgres\".",
    }),
    url: t.String({ default: "", description: "Redis URL when bus = \"redis\", e.g. redis://10.0.0.5:6379 (KEFU_CLUSTER_URL)." }),
    node_id: t.String({ default: "", maxLength: 100, pattern: "^[A-Za-z0-9._-]*$", description: "This node's name in logs, metrics and leases. Empty: <hostname>-<pid>." }),
    canary_interval_ms: t.Integer({ default: 2000, minimum: 100, maximum: 60000, description: "How often the node sends itself a canary through the bus; a canary that does not come back marks the subscription dead, logs it and resubscribes." }),
    heartbeat_ms: t.Integer({ default: 2000, minimum: 100, maximum: 60000, description: "How often a node refreshes its agents' presence in Redis; a node silent for three heartbeats is taken as gone (its agents go offline)." }),
  },
  { additionalProperties: false, description: "Cluster mode: several kefu nodes behind a load balancer (docs/cluster.md)." },
);

export const logSection = t.Object(
  {
    level: t.Union([t.Literal("debug"), t.Literal("info"), t.Literal("warn"), t.Literal("error"), t.Literal("silent")], {
      default: "info",
      description: "Minimum level of the JSON log lines written to stderr: debug, info, warn, error or silent.",
    }),
    requests: t.Boolean({ default: true, description: "Log one line per HTTP request (method, path, status, duration, request id)." }),
  },
  { additionalProperties: false, description: "Structured logging." },
);

export const authSection = t.Object(
  {
    token_ttl_hours: t.Integer({ default: 24 * 7, minimum: 1, maximum: 24 * 365, description: "Absolute lifetime of bearer tokens issued by POST /api/auth/login, in hours; logout and a password change revoke them sooner." }),
    token_idle_hours: t.Integer({ default: 24, minimum: 1, maximum: 24 * 365, description: "A bearer token unused for this many hours expires (use is recorded at most once a minute)." }),
    login_ip_burst: t.Integer({ default: 20, minimum: 1, maximum: 10000, description: "Login attempts one client IP may make at once, over all account names (a slot is taken before the password is checked)." }),
    login_ip_per_minute: t.Number({ default: 6, minimum: 0.01, maximum: 10000, description: "Sustained login attempts per minute from one client IP. A successful login gives its slot back." }),
    login_account_ip_burst: t.Integer({ default: 5, minimum: 1, maximum: 10000, description: "Login attempts on one account from one client IP at once. Other IPs keep their own allowance, so a guesser cannot lock the real user out." }),
    login_account_ip_per_minute: t.Number({ default: 1, minimum: 0.01, maximum: 10000, description: "Sustained login attempts per minute on one account from one client IP." }),
  },
  { additionalProperties: false, description: "Admin and agent accounts." },
);


export const pluginsSection = t.Object(
  {
    dir: t.String({ default: "./plugins", description: "Directory of plugins: *.ts / *.js files and folders with an index.ts (names starting with _ are helpers, not plugins). Relative to the config file's directory. Each plugin's own settings go in a [plugins.<name>] table (docs/plugins.md)." }),
    hook_timeout_ms: t.Integer({ default: 1000, minimum: 10, maximum: 60000, description: "A plugin hook slower than this is skipped for that message (the visitor is never kept waiting by a plugin)." }),
    route_timeout_ms: t.Integer({ default: 10000, minimum: 100, maximum: 120000, description: "A plugin's own REST route (/api/plugins/<name>/...) slower than this answers 502." }),
    fetch_timeout_ms: t.Integer({ default: 5000, minimum: 100, maximum: 120000, description: "Default timeout of ctx.fetch, the plugins' HTTP client." }),
    max_consecutive_errors: t.Integer({ default: 5, minimum: 0, maximum: 10000, description: "A plugin whose hooks fail or time out this many times in a row is disabled until its file changes or an admin enables it (0: never)." }),
    order: t.Array(t.String(), { default: [], description: "Plugin names whose onMessage/onAnswer hooks run first, in this order; the others follow by file name." }),
    watch: t.Boolean({ default: true, description: "Reload plugins when their files change (no restart)." }),
    poll_ms: t.Integer({ default: 2000, minimum: 0, maximum: 600000, description: "Also compare the files' sizes and times this often, for file systems where change events do not arrive (0: events only)." }),
    public_route_burst: t.Integer({ default: 20, minimum: 1, maximum: 100000, description: "Requests one client address may make at once to plugin routes declared public." }),
    public_route_per_minute: t.Number({ default: 60, minimum: 0.1, maximum: 1000000, description: "Sustained requests per minute from one client address to plugin routes declared public." }),
  },
  // [plugins.<name>] tables: each plugin checks its own against the schema it declares.
  { additionalProperties: t.Record(t.String(), t.Unknown()), description: "Business plugins." },
);

export type Section = TObject;
