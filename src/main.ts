// The process: read configuration, start the service, and shut down gracefully on SIGINT/SIGTERM.
import { startService } from "./app.js";
import { ConfigError, loadConfig } from "./core/config.js";
import { createLogger } from "./core/logger.js";
import { explainStartupError } from "./core/startup-error.js";
import { trialKeyFile, trialSigningKey } from "./core/trial-key.js";
import { WEBHOOK_PATH } from "./webhooks/webhook.routes.js";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env, { trialSigningKey });
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
  log.info({ listen: service.url }, `listening; Customer.io webhook URL: <your public base URL>${WEBHOOK_PATH}`);

  if (config.webhooks.keySource === "generated") {
    // Trial mode only: the key is meant to be copied, so it is printed, not logged.
    process.stdout.write(
      `\n  Trial mode: no CIO_WEBHOOK_SIGNING_KEYS set, so a local signing key was generated.\n` +
        `  Key: ${config.webhooks.signingKeys[0]}\n  (kept in ${trialKeyFile(config.dataDir)}; \`npm run send-sample\` uses it)\n` +
        `  Set CIO_WEBHOOK_SIGNING_KEYS to your Customer.io signing key for real traffic.\n\n`,
    );
  }
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
