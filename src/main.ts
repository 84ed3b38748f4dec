// The process: read configuration, start the service, and shut down gracefully on SIGINT/SIGTERM.
import { startService } from "./app.js";
import { startedLogFields, startupBox } from "./banner.js";
import { ConfigError, loadConfig } from "./core/config.js";
import { createLogger } from "./core/logger.js";
import { explainStartupError } from "./core/startup-error.js";
import { readTrialKey, trialSigningKey } from "./core/trial-key.js";

async function main(): Promise<void> {
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
  let service;
  try {
    service = await startService(config, log);
  } catch (err) {
    const line = explainStartupError(err, { databaseUrl: config.database.url, host: config.host, port: config.port });
    if (line === undefined) throw err;
    process.stderr.write(`Failed to start: ${line}\n`);
    process.exit(1);
  }
  const facts = { config, service, keyCreated };
  // For the person who ran `npm start`; in production the log line below says the same, minus the key.
  if (!config.production) process.stdout.write(startupBox(facts));
  log.info(startedLogFields(facts), "listening");
  if (config.webhooks.skipSignature) log.warn("INSECURE_SKIP_SIGNATURE=true: webhook signatures are NOT verified");

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    service.stop().then(
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
}

main().catch((err: unknown) => {
  process.stderr.write(`Failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
