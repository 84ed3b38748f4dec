// Owns the service's configuration: the only module that reads process.env. Every variable is parsed
// and validated once at start; a bad configuration fails with every problem named at once.
import path from "node:path";
import { createHmac, randomBytes } from "node:crypto";
import cron from "node-cron";
import { z } from "zod";
import { PROJECT_ROOT } from "./paths.js";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const bool = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no", ""])
    .optional()
    .transform((v) => (v === undefined || v === "" ? fallback : v === "true" || v === "1" || v === "yes"));

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const byteSize = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const text = (v ?? "").trim() || fallback;
      const m = /^(\d+)\s*(b|kb|mb)?$/i.exec(text);
      if (!m) {
        ctx.addIssue({ code: "custom", message: `must be a size such as 512kb or 5mb, got "${text}"` });
        return z.NEVER;
      }
      const unit = (m[2] ?? "b").toLowerCase();
      return Number(m[1]) * (unit === "mb" ? 1024 * 1024 : unit === "kb" ? 1024 : 1);
    });

const percent = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return fallback;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0 || n > 100) {
        ctx.addIssue({ code: "custom", message: `must be a percentage from 0 to 100, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const csv = z
  .string()
  .optional()
  .transform((v) => (v ?? "").split(",").map((s) => s.trim()).filter((s) => s.length > 0));

const envSchema = z.object({
  NODE_ENV: z.string().optional().default("development"),
  HOST: z.string().optional().default("0.0.0.0"),
  PORT: int(3000, 0, 65535),
  ADMIN_HOST: z.string().optional().default("127.0.0.1"),
  ADMIN_PORT: int(3001, 0, 65535),
  LOG_LEVEL: z.enum(LOG_LEVELS).optional().default("info"),

  DATABASE_URL: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === "" || /^postgres(ql)?:\/\//.test(v), "must start with postgres:// or postgresql://"),
  EMBEDDED_PG_PORT: int(5433, 1, 65535),
  DATA_DIR: z.string().optional().default(".data"),
  EMBEDDED_PG_DIR: z.string().optional(),
  MIGRATIONS_RUN: bool(true),

  DB_POOL_SIZE: int(10, 1, 200),
  DB_REPORTS_POOL_SIZE: int(4, 1, 100),
  DB_CONNECT_TIMEOUT_MS: int(1000, 100, 60_000),
  DB_STATEMENT_TIMEOUT_MS: int(2000, 100, 600_000),

  CIO_WEBHOOK_SIGNING_KEYS: csv,
  CIO_WEBHOOK_TOLERANCE_SECONDS: int(8 * 24 * 3600, 0, 365 * 24 * 3600),
  INSECURE_SKIP_SIGNATURE: bool(false),
  WEBHOOK_BODY_LIMIT: byteSize("5mb"),
  WEBHOOK_TIMEOUT_MS: int(3000, 100, 3900),

  INGEST_MAX_BATCH: int(200, 1, 5000),
  INGEST_MAX_IN_FLIGHT: int(1, 1, 64),
  INGEST_MAX_QUEUE: int(10_000, 1, 1_000_000),
  PROJECTION_BATCH: int(2000, 1, 50_000),
  PROJECTION_INTERVAL_MS: int(50, 0, 60_000),
  REQUEST_BODY_BUDGET: byteSize("64mb"),

  SHUTDOWN_TIMEOUT_MS: int(10_000, 0, 600_000),

  CIO_SITE_ID: z.string().optional(),
  CIO_API_KEY: z.string().optional(),
  CIO_REGION: z.enum(["us", "eu", "auto"]).optional(),
  CIO_TRACK_URL: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === "" || /^https?:\/\/[^/]+/.test(v), "must be an http(s) URL"),
  CIO_TIMEOUT_MS: int(10_000, 100, 120_000),

  CIO_APP_API_KEY: z.string().optional(),
  CIO_APP_API_URL: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === "" || /^https?:\/\/[^/]+/.test(v), "must be an http(s) URL (with /v1, like https://api.customer.io/v1)"),
  CIO_APP_API_RATE_LIMIT: int(10, 1, 1000),
  RECONCILE_ENABLED: z.enum(["true", "false", "1", "0", "yes", "no", ""]).optional(),
  RECONCILE_SCHEDULE: z.string().optional().default("0 47 * * * *"),
  RECONCILE_WINDOW_HOURS: int(48, 1, 24 * 180),
  RECONCILE_DELAY_MINUTES: int(60, 0, 7 * 24 * 60),
  RECONCILE_ALERT_PERCENT: percent(1),
  WEBHOOK_SILENCE_MINUTES: int(60, 0, 7 * 24 * 60),

  RELAY_CREDENTIALS: csv.refine((pairs) => pairs.every((p) => /^[^:]+:.+$/.test(p)), "must be comma-separated user:password pairs"),
  RELAY_BODY_LIMIT: byteSize("64kb"),

  PIPELINES_WRITE_KEYS: csv,
  CIO_CDP_URL: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === "" || /^https?:\/\/[^/]+/.test(v), "must be an http(s) URL such as https://cdp.customer.io/v1"),
  CIO_CDP_WRITE_KEY: z.string().optional(),
  PIPELINES_RATE_LIMIT: int(100, 1, 10_000),
  PIPELINES_BATCH_SIZE: int(100, 1, 2500),

  /** Unset: on, except in a trial without Track API settings (see loadConfig). */
  REPORTER_ENABLED: z.enum(["true", "false", "1", "0", "yes", "no", ""]).optional(),
  REPORTER_SCHEDULE: z.string().optional().default("*/5 * * * * *"),
  REPORTER_RATE_LIMIT: int(100, 1, 10_000),
  REPORTER_CONCURRENCY: int(10, 1, 256),
  REPORTER_MAX_ATTEMPTS: int(30, 1, 1000),
  REPORTER_TRANSPORT: z.enum(["track", "pipelines"]).optional().default("track"),
  REPORTER_PUSH_MODE: z.enum(["auto", "metrics", "push_events", "batch"]).optional().default("auto"),
  REPORTER_BATCH_SIZE: int(100, 1, 1000),
  REPORTER_LEASE_SECONDS: int(120, 5, 3600),
  REPORTER_BACKOFF_BASE_MS: int(1000, 10, 600_000),
  REPORTER_BACKOFF_MAX_MS: int(3_600_000, 100, 86_400_000),

  TRUST_PROXY: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const t = (v ?? "").trim().toLowerCase();
      if (t === "" || t === "false" || t === "0" || t === "no") return 0;
      if (t === "true" || t === "yes") return 1;
      if (/^\d{1,2}$/.test(t)) return Number(t);
      ctx.addIssue({ code: "custom", message: `must be false, true (one proxy) or the number of proxies in front of the service, got "${v}"` });
      return z.NEVER;
    }),
  UNSUBSCRIBE_BRAND_NAME: z.string().optional().default("our messages"),
  UNSUBSCRIBE_LOGO_URL: z.string().optional().refine((v) => !v || /^https:\/\/[^\s"'<>]+$/.test(v), "must be an https:// URL"),
  UNSUBSCRIBE_ACCENT_COLOR: z.string().optional().default("#1f4fd1").refine((v) => /^#[0-9a-fA-F]{6}$/.test(v), "must be a colour like #1f4fd1"),
  UNSUBSCRIBE_SUPPORT_URL: z.string().optional().refine((v) => !v || /^(https:\/\/|mailto:)[^\s"'<>]+$/.test(v), "must be an https:// or mailto: URL"),
  UNSUBSCRIBE_LANG: z.string().optional().default("en").refine((v) => /^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$/.test(v), "must be a language tag such as en or fr-CA"),
  UNSUBSCRIBE_TEMPLATE: z.string().optional(),
  UNSUBSCRIBE_ATTRIBUTES: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (!v) return null;
      try {
        const parsed: unknown = JSON.parse(v);
        if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
      } catch {
        /* reported below */
      }
      ctx.addIssue({ code: "custom", message: 'must be a JSON object such as {"newsletter": false}' });
      return z.NEVER;
    }),
  UNSUBSCRIBE_RECORD_CLIENT: bool(false),
  UNSUBSCRIBE_RATE_LIMIT: int(20, 1, 100_000),
  UNSUBSCRIBE_UNKNOWN_RATE_LIMIT: int(600, 1, 1_000_000),
  UNSUBSCRIBE_SECRET: z.string().optional(),

  EVENT_RETENTION_DAYS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "" || v.trim() === "forever") return null;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 31 || n > 36500) {
        ctx.addIssue({ code: "custom", message: `must be a number of days from 31 to 36500 (or empty: keep every event), got "${v}"` });
        return z.NEVER;
      }
      return n;
    }),
  OUTBOX_RETENTION_DAYS: int(30, 1, 36500),
  MAINTENANCE_SCHEDULE: z.string().optional().default("0 17 * * * *"),
  ERASURE_SECRET: z.string().optional(),

  REPORTS_CREDENTIALS: csv.refine((pairs) => pairs.every((p) => /^[^:]+:.+$/.test(p)), "must be comma-separated user:password pairs"),

  METRICS_ENABLED: bool(true),
  METRICS_CREDENTIALS: csv.refine((pairs) => pairs.every((p) => /^[^:]+:.+$/.test(p)), "must be comma-separated user:password pairs"),
});

export interface Config {
  env: string;
  /** Local state of a trial install (embedded database, generated key); git-ignored. */
  dataDir: string;
  production: boolean;
  host: string;
  port: number;
  /**
   * The admin listener: reports API, OpenAPI document, dashboard. Loopback by default, so what it
   * serves never reaches the network unless ADMIN_HOST says so.
   */
  admin: { host: string; port: number };
  logLevel: (typeof LOG_LEVELS)[number];
  database: {
    /** External server; undefined means the embedded PostgreSQL is started. */
    url: string | undefined;
    embeddedPort: number;
    embeddedDir: string;
    runMigrations: boolean;
    /** Connections for ingest (webhooks, relay, unsubscribes). */
    poolSize: number;
    /** Connections for the reports API and the dashboard. */
    reportsPoolSize: number;
    connectTimeoutMs: number;
    statementTimeoutMs: number;
  };
  webhooks: {
    signingKeys: string[];
    /** Where the keys came from: the environment, or the trial key generated under .data/. */
    keySource: "env" | "generated" | "none";
    toleranceSeconds: number;
    skipSignature: boolean;
    bodyLimitBytes: number;
    timeoutMs: number;
  };
  /** Group commit: batch size, batches in flight, and writes waiting (past it, 503 at once). */
  ingest: { maxBatch: number; maxInFlight: number; maxQueue: number };
  /** The projector: queued webhook events applied to deliveries (src/events/projector.ts). */
  projection: { batch: number; intervalMs: number; pollMs: number };
  /** Request-body bytes held at once across all requests (past it, 503 at once). */
  requestBodyBudgetBytes: number;
  shutdownTimeoutMs: number;
  track: {
    siteId: string | undefined;
    apiKey: string | undefined;
    region: "us" | "eu" | "auto";
    baseUrl: string | undefined;
    timeoutMs: number;
  };
  relay: {
    /** user:password pairs; empty = open, like Customer.io's own metrics endpoints. */
    credentials: string[];
    bodyLimitBytes: number;
  };
  /** The Data Pipelines relay (/v1/...) and Customer.io's Data Pipelines API. */
  pipelines: {
    /** Write keys the relay accepts; empty = any (each call is forwarded with its own key). */
    writeKeys: string[];
    /** CIO_CDP_URL; undefined = the region's host (PIPELINES_HOSTS). */
    url: string | undefined;
    /** Our own write key, for REPORTER_TRANSPORT=pipelines. */
    writeKey: string | undefined;
  };
  reporter: ReporterConfig;
  /** Customer.io's App API (backfill, reconciliation): enabled when CIO_APP_API_KEY is set. */
  appApi: AppApiConfig;
  /** The hourly comparison of a recent window with the App API. */
  reconcile: ReconcileConfig;
  /** Minutes without a reporting webhook, while deliveries are still being made, before it is reported; 0 = never. */
  webhookSilenceMinutes: number;
  reports: {
    /**
     * user:password pairs. Set: Basic auth on both listeners, and the public one serves reports too.
     * Empty: reports on the admin listener only, to clients on this machine.
     */
    credentials: string[];
  };
  metrics: {
    /** METRICS_ENABLED: record metrics and serve /metrics (false: neither, for those who want none and the overhead benchmark). */
    enabled: boolean;
    /**
     * user:password pairs. Set: Basic auth on /metrics on both listeners, and the public one serves it
     * too. Empty: /metrics on the admin listener only, to whoever reaches it.
     */
    credentials: string[];
  };
  maintenance: {
    /** node-cron schedule of partition creation and retention. */
    schedule: string;
    /** Drop event partitions older than this many days; null keeps every event. */
    eventRetentionDays: number | null;
    outboxRetentionDays: number;
  };
  /** Keys the hashes that record erased people (HMAC-SHA256). */
  erasureSecret: string;
  /**
   * How many proxies of yours stand in front of the service: the client address is the one the
   * outermost of them saw (that many entries from the right of X-Forwarded-For). 0 = none: the socket's.
   */
  trustProxyHops: number;
  unsubscribe: {
    brandName: string;
    logoUrl: string | null;
    accentColor: string;
    supportUrl: string | null;
    lang: string;
    templatePath: string | undefined;
    attributes: Record<string, unknown> | null;
    recordClient: boolean;
    /** POSTs for unknown delivery ids per client address per minute (known deliveries are not limited). */
    rateLimitPerMinute: number;
    /** POSTs for unknown delivery ids per minute, all addresses together. */
    unknownRateLimitPerMinute: number;
    /** Signs the page's resubscribe tokens; derived from the signing keys unless UNSUBSCRIBE_SECRET is set. */
    secret: string;
  };
}

export interface ReporterConfig {
  /** Whether this instance sends the outbox to Customer.io; when not, `held` says why. */
  enabled: boolean;
  held?: "trial-without-track-settings" | "disabled" | null;
  schedule: string;
  rateLimit: number;
  concurrency: number;
  maxAttempts: number;
  /**
   * How our own calls go out: `track` (the Track API, as before) or `pipelines` (metrics as "Report
   * Delivery Event" tracks and attribute updates as identify calls, to the Data Pipelines API with
   * CIO_CDP_WRITE_KEY). Calls relayed on /v1 always go to the Data Pipelines API.
   */
  transport: "track" | "pipelines";
  /** Requests/s to the Data Pipelines API, for all instances together. */
  pipelinesRateLimit: number;
  /** Calls per forwarded /v1/batch (and at most 480 KiB). */
  pipelinesBatchSize: number;
  /** How push metrics go out; "auto" = batch with Track credentials, else metrics. */
  pushMode: "metrics" | "push_events" | "batch";
  batchSize: number;
  leaseSeconds: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export interface AppApiConfig {
  apiKey: string | undefined;
  /** CIO_APP_API_URL: overrides the region's base URL (/v1 included). */
  baseUrl: string | undefined;
  /** The region's host when baseUrl is unset; `auto` asks the Track API's region lookup. */
  region: "us" | "eu" | "auto";
  /** Requests per second, for all instances together. */
  rateLimit: number;
  timeoutMs: number;
}

export interface ReconcileConfig {
  enabled: boolean;
  schedule: string;
  /** The window compared: `windowHours` hours ending `delayMinutes` ago. */
  windowHours: number;
  delayMinutes: number;
  /** A run that finds more than this share of the App API's metrics missing logs an error. */
  alertPercent: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export interface ConfigHooks {
  /** Returns (creating it if needed) the generated key kept in dataDir, used in trial mode. */
  trialSigningKey?: (dataDir: string) => string;
}

function parse<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  return parsed.data;
}

function databaseConfig(e: z.infer<typeof envSchema>): Config["database"] {
  return {
    url: e.DATABASE_URL ? e.DATABASE_URL : undefined,
    embeddedPort: e.EMBEDDED_PG_PORT,
    embeddedDir: path.resolve(PROJECT_ROOT, e.EMBEDDED_PG_DIR ?? path.join(e.DATA_DIR, "postgres")),
    runMigrations: e.MIGRATIONS_RUN,
    poolSize: e.DB_POOL_SIZE,
    reportsPoolSize: e.DB_REPORTS_POOL_SIZE,
    connectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
  };
}

/**
 * A secret every instance derives alike from the shared signing key, so what one instance signs or
 * hashes another recognises; random (this process only) when there is no key.
 */
function derivedSecret(signingKeys: readonly string[], purpose: string): string {
  return signingKeys[0] ? createHmac("sha256", signingKeys[0]).update(`cio-companion:${purpose}`).digest("hex") : randomBytes(32).toString("hex");
}

/** Only the database settings: for tools (migrations, replay) that need no webhook keys. */
export function loadDatabaseConfig(env: NodeJS.ProcessEnv = process.env): Config["database"] {
  return databaseConfig(parse(envSchema, env));
}

/** Parses and validates the environment. Throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, hooks: ConfigHooks = {}): Config {
  const e = parse(envSchema, env);
  const database = databaseConfig(e);
  const dataDir = path.resolve(PROJECT_ROOT, e.DATA_DIR);
  const production = e.NODE_ENV === "production" || database.url !== undefined;
  const problems: string[] = [];

  let signingKeys = e.CIO_WEBHOOK_SIGNING_KEYS;
  let keySource: Config["webhooks"]["keySource"] = signingKeys.length > 0 ? "env" : "none";
  if (production && e.INSECURE_SKIP_SIGNATURE) {
    problems.push("INSECURE_SKIP_SIGNATURE: not allowed with NODE_ENV=production or an external DATABASE_URL");
  }
  if (signingKeys.length === 0 && !e.INSECURE_SKIP_SIGNATURE) {
    if (production) {
      problems.push(
        "CIO_WEBHOOK_SIGNING_KEYS: required with NODE_ENV=production or an external DATABASE_URL " +
          "(Customer.io > Data & Integrations > Reporting webhooks > signing key)",
      );
    } else if (hooks.trialSigningKey) {
      signingKeys = [hooks.trialSigningKey(dataDir)];
      keySource = "generated";
    } else {
      problems.push("CIO_WEBHOOK_SIGNING_KEYS: required (or set INSECURE_SKIP_SIGNATURE=true for local development)");
    }
  }
  const hasTrackCredentials = Boolean(e.CIO_SITE_ID && e.CIO_API_KEY);
  if (Boolean(e.CIO_SITE_ID) !== Boolean(e.CIO_API_KEY)) problems.push("CIO_SITE_ID / CIO_API_KEY: set both or neither");
  if (e.REPORTER_PUSH_MODE === "batch" && !hasTrackCredentials) problems.push("REPORTER_PUSH_MODE: batch needs CIO_SITE_ID and CIO_API_KEY (/api/v2/batch requires Basic auth)");
  if (e.CIO_REGION === "auto" && !hasTrackCredentials) problems.push("CIO_REGION: auto needs CIO_SITE_ID and CIO_API_KEY (the region lookup requires Basic auth)");
  if (e.REPORTER_TRANSPORT === "pipelines" && !e.CIO_CDP_WRITE_KEY) problems.push("REPORTER_TRANSPORT: pipelines needs CIO_CDP_WRITE_KEY (the write key of a Customer.io Data Pipelines source)");
  if (e.ADMIN_PORT !== 0 && e.ADMIN_PORT === e.PORT) problems.push(`ADMIN_PORT: must differ from PORT (${e.PORT}); the admin listener serves reports apart from the public one`);
  // A trial (no DATABASE_URL, not production) with no Track API settings keeps what it owes
  // Customer.io in the outbox instead of retrying, forever and noisily, calls no one set up.
  const hasTrackSettings = hasTrackCredentials || Boolean(e.CIO_TRACK_URL) || e.CIO_REGION !== undefined || Boolean(e.CIO_CDP_URL) || Boolean(e.CIO_CDP_WRITE_KEY);
  const reporterEnabled =
    e.REPORTER_ENABLED === undefined || e.REPORTER_ENABLED === "" ? production || hasTrackSettings : ["true", "1", "yes"].includes(e.REPORTER_ENABLED);
  const reporterHeld = reporterEnabled ? null : e.REPORTER_ENABLED ? "disabled" : "trial-without-track-settings";
  if (!cron.validate(e.REPORTER_SCHEDULE)) problems.push(`REPORTER_SCHEDULE: not a valid cron expression: "${e.REPORTER_SCHEDULE}"`);
  if (!cron.validate(e.MAINTENANCE_SCHEDULE)) problems.push(`MAINTENANCE_SCHEDULE: not a valid cron expression: "${e.MAINTENANCE_SCHEDULE}"`);
  const hasAppApiKey = Boolean(e.CIO_APP_API_KEY);
  const reconcileEnabled = e.RECONCILE_ENABLED === undefined || e.RECONCILE_ENABLED === "" ? hasAppApiKey : ["true", "1", "yes"].includes(e.RECONCILE_ENABLED);
  if (reconcileEnabled && !hasAppApiKey) problems.push("RECONCILE_ENABLED: reconciliation needs CIO_APP_API_KEY (Customer.io: Account Settings > API Credentials > App API Keys)");
  if (!cron.validate(e.RECONCILE_SCHEDULE)) problems.push(`RECONCILE_SCHEDULE: not a valid cron expression: "${e.RECONCILE_SCHEDULE}"`);
  if (!e.METRICS_ENABLED && e.METRICS_CREDENTIALS.length > 0) problems.push("METRICS_CREDENTIALS: set, but METRICS_ENABLED=false serves no metrics; unset one of them");
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    env: e.NODE_ENV,
    dataDir,
    production,
    host: e.HOST,
    port: e.PORT,
    admin: { host: e.ADMIN_HOST, port: e.ADMIN_PORT },
    logLevel: e.LOG_LEVEL,
    database,
    webhooks: {
      signingKeys,
      keySource,
      toleranceSeconds: e.CIO_WEBHOOK_TOLERANCE_SECONDS,
      skipSignature: e.INSECURE_SKIP_SIGNATURE,
      bodyLimitBytes: e.WEBHOOK_BODY_LIMIT,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
    },
    ingest: { maxBatch: e.INGEST_MAX_BATCH, maxInFlight: e.INGEST_MAX_IN_FLIGHT, maxQueue: e.INGEST_MAX_QUEUE },
    projection: { batch: e.PROJECTION_BATCH, intervalMs: e.PROJECTION_INTERVAL_MS, pollMs: 1000 },
    requestBodyBudgetBytes: e.REQUEST_BODY_BUDGET,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    track: {
      siteId: e.CIO_SITE_ID || undefined,
      apiKey: e.CIO_API_KEY || undefined,
      region: e.CIO_REGION ?? (hasTrackCredentials ? "auto" : "us"),
      baseUrl: e.CIO_TRACK_URL || undefined,
      timeoutMs: e.CIO_TIMEOUT_MS,
    },
    relay: { credentials: e.RELAY_CREDENTIALS, bodyLimitBytes: e.RELAY_BODY_LIMIT },
    pipelines: { writeKeys: e.PIPELINES_WRITE_KEYS, url: e.CIO_CDP_URL || undefined, writeKey: e.CIO_CDP_WRITE_KEY || undefined },
    appApi: {
      apiKey: e.CIO_APP_API_KEY || undefined,
      baseUrl: e.CIO_APP_API_URL || undefined,
      region: e.CIO_REGION ?? (hasTrackCredentials ? "auto" : "us"),
      rateLimit: e.CIO_APP_API_RATE_LIMIT,
      timeoutMs: e.CIO_TIMEOUT_MS,
    },
    reconcile: {
      enabled: reconcileEnabled,
      schedule: e.RECONCILE_SCHEDULE,
      windowHours: e.RECONCILE_WINDOW_HOURS,
      delayMinutes: e.RECONCILE_DELAY_MINUTES,
      alertPercent: e.RECONCILE_ALERT_PERCENT,
    },
    webhookSilenceMinutes: e.WEBHOOK_SILENCE_MINUTES,
    reporter: {
      enabled: reporterEnabled,
      held: reporterHeld,
      schedule: e.REPORTER_SCHEDULE,
      rateLimit: e.REPORTER_RATE_LIMIT,
      concurrency: e.REPORTER_CONCURRENCY,
      maxAttempts: e.REPORTER_MAX_ATTEMPTS,
      transport: e.REPORTER_TRANSPORT,
      pipelinesRateLimit: e.PIPELINES_RATE_LIMIT,
      pipelinesBatchSize: e.PIPELINES_BATCH_SIZE,
      pushMode: e.REPORTER_PUSH_MODE === "auto" ? (hasTrackCredentials ? "batch" : "metrics") : e.REPORTER_PUSH_MODE,
      batchSize: e.REPORTER_BATCH_SIZE,
      leaseSeconds: e.REPORTER_LEASE_SECONDS,
      backoffBaseMs: e.REPORTER_BACKOFF_BASE_MS,
      backoffMaxMs: e.REPORTER_BACKOFF_MAX_MS,
    },
    reports: { credentials: e.REPORTS_CREDENTIALS },
    metrics: { enabled: e.METRICS_ENABLED, credentials: e.METRICS_CREDENTIALS },
    maintenance: { schedule: e.MAINTENANCE_SCHEDULE, eventRetentionDays: e.EVENT_RETENTION_DAYS, outboxRetentionDays: e.OUTBOX_RETENTION_DAYS },
    erasureSecret: e.ERASURE_SECRET || derivedSecret(signingKeys, "erasure"),
    trustProxyHops: e.TRUST_PROXY,
    unsubscribe: {
      brandName: e.UNSUBSCRIBE_BRAND_NAME,
      logoUrl: e.UNSUBSCRIBE_LOGO_URL || null,
      accentColor: e.UNSUBSCRIBE_ACCENT_COLOR,
      supportUrl: e.UNSUBSCRIBE_SUPPORT_URL || null,
      lang: e.UNSUBSCRIBE_LANG,
      templatePath: e.UNSUBSCRIBE_TEMPLATE ? path.resolve(PROJECT_ROOT, e.UNSUBSCRIBE_TEMPLATE) : undefined,
      attributes: e.UNSUBSCRIBE_ATTRIBUTES,
      recordClient: e.UNSUBSCRIBE_RECORD_CLIENT,
      rateLimitPerMinute: e.UNSUBSCRIBE_RATE_LIMIT,
      unknownRateLimitPerMinute: e.UNSUBSCRIBE_UNKNOWN_RATE_LIMIT,
      // Every instance derives the same secret from the shared signing key, so a page served by one
      // instance can be posted to another.
      secret: e.UNSUBSCRIBE_SECRET || derivedSecret(signingKeys, "unsubscribe-token"),
    },
  };
}
