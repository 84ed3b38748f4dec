// The composition root: builds every part of the service from a Config and starts its two HTTP
// listeners: the public one (webhooks, relay, unsubscribe pages) and the admin one (reports, dashboard).
// main.ts owns the process (signals, exit codes); tests call startService() directly.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Config } from "./core/config.js";
import { createDataSource, createPool, migrate, openDatabase, type Database } from "./core/database.js";
import { ByteBudget } from "./core/body-budget.js";
import type Koa from "koa";
import { createHttpApp, type AppState } from "./core/http.js";
import { type Logger, safeUrl } from "./core/logger.js";
import cron from "node-cron";
import { healthRoutes } from "./health/health.routes.js";
import { runMaintenance } from "./maintenance/maintenance.js";
import { OutboxSender } from "./reporter/outbox-sender.js";
import { PIPELINES_HOSTS, PipelinesClient } from "./reporter/pipelines-client.js";
import { PipelinesKeys } from "./reporter/pipelines-keys.repository.js";
import { MAX_BATCH_REQUEST_BYTES } from "./reporter/pipelines-body.js";
import { pipelinesRoutes } from "./reporter/pipelines.routes.js";
import { PipelinesService } from "./reporter/pipelines.service.js";
import { relayRoutes } from "./reporter/relay.routes.js";
import { RelayService } from "./reporter/relay.service.js";
import { TrackClient } from "./reporter/track-client.js";
import { dashboardHomeRoutes, reportsRoutes } from "./reports/reports.routes.js";
import { loadTemplate } from "./unsubscribe/pages.js";
import { unsubscribeRoutes } from "./unsubscribe/unsubscribe.routes.js";
import { UnsubscribeService } from "./unsubscribe/unsubscribe.service.js";
import { DeliveryLookup } from "./events/delivery-lookup.js";
import { ErasedPeople } from "./events/erasures.js";
import { EventStore } from "./events/event-store.js";
import { Projector } from "./events/projector.js";
import { webhookRoutes } from "./webhooks/webhook.routes.js";
import { createAppApiClient, type AppApiSetup } from "./backfill/app-api-client.js";
import { MessageFiller } from "./backfill/message-filler.js";
import { Reconciler } from "./backfill/reconcile.js";
import { checkSilence, WebhookHeartbeat, type SilenceStatus } from "./backfill/webhook-silence.js";
import { observeService } from "./metrics/service-metrics.js";

export interface Service {
  /** The public listener (PORT): webhooks, the relay, unsubscribe pages; reports only with REPORTS_CREDENTIALS. */
  url: string;
  /** The admin listener (ADMIN_HOST:ADMIN_PORT, loopback by default): reports API, OpenAPI, dashboard at /reports, /metrics. */
  adminUrl: string;
  server: http.Server;
  adminServer: http.Server;
  store: EventStore;
  /** Applies queued webhook events to deliveries; drain() waits until every queued event is applied. */
  projector: Projector;
  /** Erased people, as this instance knows them (refresh() reads them again). */
  erasures: ErasedPeople;
  sender: OutboxSender;
  /** The hourly comparison with the App API (with CIO_APP_API_KEY and reconciliation on). */
  reconciler: Reconciler | undefined;
  /** Checks for silent webhooks now, as the minutely job does (null when WEBHOOK_SILENCE_MINUTES is 0). */
  checkSilence(): Promise<SilenceStatus | null>;
  database: Database;
  /** Graceful stop: refuse new connections, finish in-flight requests and writes, close the pool. */
  stop(): Promise<void>;
}

/** What tests point elsewhere: the App API's hosts. */
export interface ServiceOptions {
  appApi?: AppApiSetup;
}

export async function startService(config: Config, log: Logger, options: ServiceOptions = {}): Promise<Service> {
  const database = await openDatabase(config.database, { log: (m) => log.info(m), role: "service" });
  try {
    if (config.database.runMigrations) {
      const applied = await migrate(database.url);
      if (applied.length > 0) log.info({ migrations: applied }, "migrations applied");
    }
    // The DataSource serves readiness and migrations; the hot paths each have a pool of their own, so a
    // busy sender or a dashboard load waits for its own connections, never for ingest's.
    const db = config.database;
    const dataSource = createDataSource(database.url, { poolSize: 2, connectTimeoutMs: db.connectTimeoutMs, statementTimeoutMs: db.statementTimeoutMs });
    await dataSource.initialize();
    const ingestPool = createPool(database.url, { poolSize: db.poolSize, connectTimeoutMs: db.connectTimeoutMs, statementTimeoutMs: db.statementTimeoutMs, applicationName: "cio-companion-ingest" });
    // The sender works in the background: it may wait longer for a connection than a request can.
    const reporterPool = createPool(database.url, { poolSize: Math.min(config.reporter.concurrency + 2, 20), connectTimeoutMs: db.connectTimeoutMs * 10, statementTimeoutMs: db.statementTimeoutMs, applicationName: "cio-companion-reporter" });
    const reportsPool = createPool(database.url, { poolSize: db.reportsPoolSize, connectTimeoutMs: db.connectTimeoutMs, statementTimeoutMs: db.statementTimeoutMs, applicationName: "cio-companion-reports" });
    // Reconciliation reads the App API and writes what is missing in the background: its own few
    // connections, with room for a page's statement (1000 messages) under load.
    const appApiPool = config.appApi.apiKey && config.reconcile.enabled
      ? createPool(database.url, { poolSize: 6, connectTimeoutMs: db.connectTimeoutMs * 10, statementTimeoutMs: Math.max(db.statementTimeoutMs, 30_000), applicationName: "cio-companion-reconcile" })
      : undefined;
    const pools = [ingestPool, reporterPool, reportsPool, ...(appApiPool ? [appApiPool] : [])];
    const observed = observeService(config, database.url, { ingest: ingestPool, reporter: reporterPool, reports: reportsPool, reconcile: appApiPool });
    if (observed.pool) pools.push(observed.pool);
    // An idle client whose server went away emits 'error'; the pool drops it and we reconnect later.
    for (const pool of pools) pool.on("error", (err) => log.warn({ err: err.message }, "idle database connection lost"));
    log.info({ database: safeUrl(database.url) }, "database connected");

    const erasures = new ErasedPeople(ingestPool, config.erasureSecret);
    // Read now if the table is there (migrations may still be pending); guard() reads again later.
    await erasures.refresh().catch((err: unknown) => log.warn({ err: (err as Error).message }, "erased people not read yet"));
    const projector = new Projector(ingestPool, log, config.projection);
    const store = new EventStore(ingestPool, config.ingest, log, erasures, undefined, () => projector.kick());
    const lookup = new DeliveryLookup(ingestPool);
    const track = new TrackClient({ ...config.track, connections: config.reporter.concurrency, log });
    // Customer.io's Data Pipelines API: CIO_CDP_URL, else the host of the workspace's region.
    const cdpUrl = config.pipelines.url;
    const cdp = new PipelinesClient({
      baseUrl: cdpUrl ? () => Promise.resolve(cdpUrl) : () => track.region().then((r) => PIPELINES_HOSTS[r]),
      timeoutMs: config.track.timeoutMs,
      connections: config.reporter.concurrency,
      log,
    });
    const sender = new OutboxSender(reporterPool, track, config.reporter, log, { client: cdp, keys: new PipelinesKeys(reporterPool), ownWriteKey: config.pipelines.writeKey });
    const kick = () => {
      if (config.reporter.enabled) sender.kick(); // an immediate attempt after each accepted call
    };
    const relay = new RelayService(store, kick);
    const pipelines = new PipelinesService(store, ingestPool, new PipelinesKeys(ingestPool), kick);
    // Attribute updates go as Track API calls (Site ID / API key) or, with REPORTER_TRANSPORT=pipelines, as identify calls.
    const canIdentify = track.hasCredentials || (config.reporter.transport === "pipelines" && Boolean(config.pipelines.writeKey));
    const unsubscribes = new UnsubscribeService(store, lookup, { attributes: config.unsubscribe.attributes, canIdentify }, kick);
    const u = config.unsubscribe;
    const brand = { name: u.brandName, logoUrl: u.logoUrl, accent: u.accentColor, supportUrl: u.supportUrl, lang: u.lang, template: loadTemplate(u.templatePath) };
    // Every instance runs the schedule; claims (FOR UPDATE SKIP LOCKED + leases) keep them from
    // taking the same rows, so no row is sent twice by two instances.
    const reporterJob = config.reporter.enabled
      ? cron.schedule(
          config.reporter.schedule,
          () => sender.drain().then(
            () => undefined,
            (err: unknown) => log.warn({ err: (err as Error).message }, "outbox drain failed; the next run retries"),
          ),
          { name: "outbox", noOverlap: true },
        )
      : undefined;
    if (config.reporter.enabled) sender.kick(); // rows left from before a restart
    projector.start(); // and events queued before it

    // Partitions ahead, retention: every instance runs the schedule, one at a time (advisory lock).
    const maintain = () =>
      runMaintenance(reporterPool, config.maintenance, log).then(
        () => undefined,
        (err: unknown) => log.warn({ err: (err as Error).message }, "maintenance failed; the next run retries"),
      );
    const maintenanceJob = cron.schedule(config.maintenance.schedule, maintain, { name: "maintenance", noOverlap: true });
    const firstMaintenance = maintain();

    // Missing deliveries: the hourly reconciliation with the App API, and noticing silent webhooks.
    const heartbeat = new WebhookHeartbeat(ingestPool, log);
    const appApi = appApiPool ? createAppApiClient(config, appApiPool, log, options.appApi) : undefined;
    const reconciler = appApi && appApiPool ? new Reconciler(appApiPool, new MessageFiller(appApiPool, appApi, erasures, log), config.reconcile, log) : undefined;
    const stopReconciling = new AbortController();
    let reconciling: Promise<unknown> | undefined;
    const reconcile = () => {
      reconciling = reconciler!.runOnce(Date.now(), stopReconciling.signal).then(
        () => undefined,
        (err: unknown) => log.error({ err: (err as Error).message }, "reconciliation failed; the next run tries again"),
      );
      return reconciling;
    };
    const reconcileJob = reconciler ? cron.schedule(config.reconcile.schedule, reconcile, { name: "reconcile", noOverlap: true }) : undefined;
    const silence = () => checkSilence(reporterPool, config.webhookSilenceMinutes, log);
    const silenceJob =
      config.webhookSilenceMinutes > 0
        ? cron.schedule("30 * * * * *", () => silence().then(() => undefined, (err: unknown) => log.warn({ err: (err as Error).message }, "webhook silence check failed")), { name: "webhook-silence", noOverlap: true })
        : undefined;
    const completeness = { reconcile: config.reconcile, appApi: Boolean(config.appApi.apiKey), silenceMinutes: config.webhookSilenceMinutes };

    let shuttingDown = false;
    const app = createHttpApp(
      log,
      [
        healthRoutes(dataSource, () => shuttingDown),
        webhookRoutes(config.webhooks, store, () => heartbeat.seen()),
        relayRoutes(config.relay, relay, config.webhooks.timeoutMs),
        pipelinesRoutes(config.pipelines, pipelines, config.webhooks.timeoutMs),
        unsubscribeRoutes(config.unsubscribe, brand, unsubscribes, config.webhooks.timeoutMs),
        reportsRoutes(config.reports, reportsPool, "public", completeness),
        ...observed.routes("public"),
      ],
      {
        onAnswered: observed.onAnswered,
        trustProxyHops: config.trustProxyHops,
        bodyBudget: { budget: new ByteBudget(config.requestBodyBudgetBytes), maxBodyBytes: Math.max(config.webhooks.bodyLimitBytes, config.relay.bodyLimitBytes, MAX_BATCH_REQUEST_BYTES) },
      },
    );
    // Personal data (reports, the dashboard) has a listener of its own, on loopback unless ADMIN_HOST
    // says otherwise: a proxy in front of the public port can never reach it.
    const adminApp = createHttpApp(log, [healthRoutes(dataSource, () => shuttingDown), reportsRoutes(config.reports, reportsPool, "admin", completeness), dashboardHomeRoutes(), ...observed.routes("admin")]);

    // Port taken (say): undo what started, so the database closes without stray errors.
    const stopBackground = async () => {
      await reconcileJob?.stop();
      await silenceJob?.stop();
      stopReconciling.abort();
      await reconciling;
      await appApi?.close();
    };
    const undo = async () => {
      await stopBackground();
      await reporterJob?.stop();
      await maintenanceJob.stop();
      await firstMaintenance;
      await sender.stop();
      await projector.stop();
      await track.close();
      await cdp.close();
      await Promise.all(pools.map((p) => p.end()));
      await dataSource.destroy();
    };
    const server = await listen(app, config.port, config.host).catch(async (err: unknown) => {
      await undo();
      throw err;
    });
    const adminServer = await listen(adminApp, config.admin.port, config.admin.host).catch(async (err: unknown) => {
      server.close();
      await undo();
      throw err;
    });

    const stop = async () => {
      shuttingDown = true;
      await Promise.all([server, adminServer].map((s) => closeGracefully(s, config.shutdownTimeoutMs)));
      await stopBackground();
      await reporterJob?.stop();
      await maintenanceJob.stop();
      await firstMaintenance;
      await sender.stop();
      await store.drained();
      await projector.stop();
      await track.close();
      await cdp.close();
      await Promise.all(pools.map((p) => p.end()));
      await dataSource.destroy();
      await database.close();
    };
    return { url: urlOf(server), adminUrl: urlOf(adminServer), server, adminServer, store, projector, erasures, sender, reconciler, checkSilence: silence, database, stop };
  } catch (err) {
    await database.close().catch(() => undefined);
    throw err;
  }
}

async function listen(app: Koa<AppState>, port: number, host: string): Promise<http.Server> {
  const server = http.createServer(app.callback());
  server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeouts
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

function urlOf(server: http.Server): string {
  const address = server.address() as AddressInfo;
  return `http://${address.family === "IPv6" ? `[${address.address}]` : address.address === "0.0.0.0" ? "127.0.0.1" : address.address}:${address.port}`;
}

/** Refuse new connections and finish in-flight requests; past `timeoutMs`, close what is left. */
async function closeGracefully(server: http.Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Keep-alive sockets become idle as their last request finishes: close each as soon as it does.
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  server.closeIdleConnections();
  const forced = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await closed;
  clearInterval(sweep);
  clearTimeout(forced);
}
