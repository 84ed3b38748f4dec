// `npm run migrate`: applies pending migrations (for deployments that set MIGRATIONS_RUN=false and
// migrate as a separate step). Starts the embedded PostgreSQL when no DATABASE_URL is set.
import { parseCommandLine, type Tool } from "../src/core/cli.js";
import { migrate } from "../src/core/database.js";
import { runDatabaseTool } from "./lib/database-tool.js";

const TOOL: Tool = {
  name: "npm run migrate --",
  usage: `Usage: npm run migrate

Applies pending database migrations to DATABASE_URL (or the embedded PostgreSQL of this folder), one
instance at a time (an advisory lock lets several start together). The service migrates at start
unless MIGRATIONS_RUN=false.

Options:
  -h, --help   this help
`,
};

parseCommandLine(TOOL, {});

await runDatabaseTool(TOOL, async ({ url }) => {
  const applied = await migrate(url);
  console.log(applied.length > 0 ? `applied: ${applied.join(", ")}` : "nothing to apply: the schema is up to date");
});
