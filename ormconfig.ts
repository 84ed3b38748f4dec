// The one DataSource, for the TypeORM CLI (migration:generate / migration:run / the drift check).
// It points at DATABASE_URL, or at the embedded PostgreSQL of this folder (which must be running:
// `npm start` or `npm run migrate` starts it). The service builds its own with the same options.
import { loadDatabaseConfig } from "./src/core/config.js";
import { configuredUrl, createDataSource } from "./src/core/database.js";

const config = loadDatabaseConfig();

export default createDataSource(configuredUrl(config), {
  poolSize: 2,
  connectTimeoutMs: config.connectTimeoutMs,
  statementTimeoutMs: 0,
  applicationName: "cio-companion-cli",
});
