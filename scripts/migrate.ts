// `npm run migrate`: applies pending migrations (for deployments that set MIGRATIONS_RUN=false and
// migrate as a separate step). Starts the embedded PostgreSQL when no DATABASE_URL is set.
import { loadDatabaseConfig } from "../src/core/config.js";
import { migrate, openDatabase } from "../src/core/database.js";

const database = await openDatabase(loadDatabaseConfig(), { log: (m) => console.log(m), role: "tool" });
try {
  const applied = await migrate(database.url);
  console.log(applied.length > 0 ? `applied: ${applied.join(", ")}` : "nothing to apply: the schema is up to date");
} finally {
  await database.close();
}
