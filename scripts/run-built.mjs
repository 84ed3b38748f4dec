// `node scripts/run-built.mjs <script> [args]`: runs dist/scripts/<script>.js, compiling first (tsc,
// a runtime dependency) when a source is newer than the last build. Plain JavaScript so that it runs
// before any build, and without tsx, which a production install (npm ci --omit=dev) does not have.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const [name, ...args] = process.argv.slice(2);
if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
  process.stderr.write("usage: node scripts/run-built.mjs <script> [args]\n");
  process.exit(64);
}

function newest(dir) {
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(p) : entry.name.endsWith(".ts") ? fs.statSync(p).mtimeMs : 0);
  }
  return latest;
}

const built = path.join(root, "dist", ".tsbuildinfo");
const sources = Math.max(
  ...["src", "entities", "migrations", "scripts"].map((d) => newest(path.join(root, d))),
  ...["tsconfig.json", "tsconfig.build.json", "ormconfig.ts"].map((f) => fs.statSync(path.join(root, f)).mtimeMs),
);
if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < sources) {
  const tsc = spawnSync(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", path.join(root, "tsconfig.build.json")], { stdio: "inherit" });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
  fs.utimesSync(built, new Date(), new Date()); // a build with nothing to emit leaves it as it was
}

process.setSourceMapsEnabled(true);
process.argv = [process.argv[0], path.join(root, "dist", "scripts", `${name}.js`), ...args];
await import(pathToFileURL(process.argv[1]).href);
