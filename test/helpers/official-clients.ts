// Customer.io's own clients, run unchanged against our endpoints. They are not dependencies: every
// customerio-node release with reportMetric and unsubscribe declares Node >= 22, so installing it would
// make `npm ci` warn on the Node 20 we support. The package file npm publishes is kept in test/clients,
// checked against the integrity npm records for it (so it is byte for byte the published client),
// unpacked to a temporary folder, and run in a child process (importing undici in the test process
// would change the fetch the client uses: see shared/customerio/README.md, section 4).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { PROJECT_ROOT } from "../../src/core/paths.js";

const CLIENTS = {
  "customerio-node": {
    file: "customerio-node-5.2.0.tgz",
    // From the npm registry (`npm view customerio-node@5.2.0 dist.integrity`).
    integrity: "sha512-SZ2FDOuJb3XywCfbONN42ZmYc/G2zDKNf+oZ4ZZ4ajDQr9tf6WYi8tAgPkFpL4fGNFiOWgqheOXudenvWS/s/Q==",
  },
} as const;

/** The folder of the unpacked, verified package, ready to require(). */
export async function officialClient(name: keyof typeof CLIENTS): Promise<string> {
  const { file, integrity } = CLIENTS[name];
  const tarball = path.join(PROJECT_ROOT, "test", "clients", file);
  const bytes = fs.readFileSync(tarball);
  const actual = `sha512-${createHash("sha512").update(bytes).digest("base64")}`;
  if (actual !== integrity) throw new Error(`${file} is not the published package: ${actual}`);
  const dir = path.join(os.tmpdir(), `cio-companion-${name}-${integrity.slice(7, 19).replace(/[/+]/g, "_")}`);
  if (!fs.existsSync(path.join(dir, "package", "package.json"))) {
    fs.mkdirSync(dir, { recursive: true });
    await promisify(execFile)("tar", ["-xzf", tarball, "-C", dir]);
  }
  return path.join(dir, "package");
}

/** Runs `script` (CommonJS) in a child process where `CLIENT` is the client's folder; resolves with its stdout. */
export async function runWithOfficialClient(name: keyof typeof CLIENTS, script: string, args: string[]): Promise<string> {
  const dir = await officialClient(name);
  const { stdout } = await promisify(execFile)(process.execPath, ["-e", `const CLIENT = ${JSON.stringify(dir)};\n${script}`, ...args], { cwd: PROJECT_ROOT });
  return stdout;
}
