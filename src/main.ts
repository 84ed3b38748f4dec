// The process: read configuration, start the service, and shut down gracefully on SIGINT/SIGTERM.
import { startService, type Service } from "./app.js";
import { startedLogFields, startupBox } from "./banner.js";
import { parseCommandLine, type Tool } from "./core/cli.js";
import { ConfigError, loadConfig } from "./core/config.js";
import { createLogger } from "./core/logger.js";
import { explainStartupError } from "./core/startup-error.js";
import { readTrialKey, trialSigningKey } from "./core/trial-key.js";

const TOOL: Tool = {
  name: "npm start --",
  usage: `Usage: npm start            (npm run dev: the same, from source)

Runs the service: receives Customer.io reporting webhooks, relays metrics to Customer.io, serves the
unsubscribe page, the reports API and the dashboard. Everything is configured with environment
variables (see "Configuration" in the README); with none, it starts a trial: an embedded PostgreSQL
and a generated signing key, both kept in .data/.

Common variables:
  PORT, HOST                      where it listens (default 0.0.0.0:3000)
  DATABASE_URL                    your PostgreSQL (unset: the embedded one)
  CIO_WEBHOOK_SIGNING_KEYS        the reporting webhook's signing key(s)
  CIO_SITE_ID, CIO_API_KEY        Track API credentials, to send relayed calls to Customer.io
  PIPELINES_WRITE_KEYS            write keys the Data Pipelines relay (/v1/...) accepts (unset: any)
  REPORTER_TRANSPORT              track (default) or pipelines (with CIO_CDP_WRITE_KEY)
  CIO_APP_API_KEY                 App API key: hourly reconciliation (and npm run backfill)
  METRICS_CREDENTIALS             user:password for /metrics on PORT too (always on ADMIN_PORT)

Options:
  -h, --help   this help
`,
};

async function main(): Promise<void> {
  parseCommandLine(TOOL, {});
  let config;
  let keyCreated = false;
  try {
    config = loadConfig(process.env, {
      trialSigningKey: (dataDir) => {
        keyCreated = readTrialKey(dataDir) === undefined;
        return trialSigningKey(dataDir);
      },
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  // Signals are handled from here on, also while the service starts: a Ctrl-C then waits for the start
  // to finish and stops what it started (the embedded database included), instead of the process dying
  // with the server left running.
  let starting: Promise<Service | undefined> | undefined;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    void (starting ?? Promise.resolve(undefined))
      .catch(() => undefined) // a start that failed has nothing to stop
      .then((service) => service?.stop())
      .then(
        () => {
          log.info("stopped");
          process.exit(0);
        },
        (err: unknown) => {
          log.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));

  let service: Service;
  try {
    starting = startService(config, log);
    starting.catch(() => undefined); // a failed start is handled below; a shutdown meanwhile just exits
    service = (await starting)!;
  } catch (err) {
    if (stopping) return; // stopped while starting: the shutdown above exits
    const line = explainStartupError(err, { databaseUrl: config.database.url, host: config.host, port: config.port });
    if (line === undefined) throw err;
    process.stderr.write(`Failed to start: ${line}\n`);
    process.exit(1);
  }
  if (stopping) return; // a signal came while starting: the shutdown above stops the service
  const facts = { config, service, keyCreated };
  // For the person who ran `npm start`; in production the log line below says the same, minus the key.
  if (!config.production) process.stdout.write(startupBox(facts));
  log.info(startedLogFields(facts), "listening");
  if (config.webhooks.skipSignature) log.warn("INSECURE_SKIP_SIGNATURE=true: webhook signatures are NOT verified");
}

main().catch((err: unknown) => {
  process.stderr.write(`Failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
