// Runs the service as a real child process (what `npm start` runs, from source) and waits for it.
import { spawn, type ChildProcess } from "node:child_process";
import { PROJECT_ROOT } from "../../src/core/paths.js";
import { freePort } from "../../scripts/lib/free-port.js";

export { freePort };


export interface ServiceProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** Environment without the test runner's own variables, as a user's shell would have. */
export function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { PATH: process.env["PATH"], HOME: process.env["HOME"], LANG: "C.UTF-8" };
  return { ...base, ...env };
}

/** `npm start` from source; the admin listener on a free port unless `env` names one (3001 may be taken). */
export function spawnService(env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: PROJECT_ROOT, env: cleanEnv({ ADMIN_PORT: "0", ...env }), stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    waitFor: (pattern, timeoutMs = 30_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(out)) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; output so far:\n${out}`));
        }, timeoutMs);
        listeners.add(check);
        void exited.then((code) => {
          if (!pattern.test(out)) {
            clearTimeout(timer);
            reject(new Error(`service exited (${code}) before ${pattern}; output:\n${out}`));
          }
        });
        check();
      }),
  };
}

/** Whether the service at `baseUrl` answers /readyz with 200. */
export async function isReady(baseUrl: string): Promise<boolean> {
  return (await fetch(`${baseUrl}/readyz`).catch(() => null))?.status === 200;
}

/** The exit code of a process expected to stop by itself; killed (code null) if it has not after `ms`. */
export async function exitCodeWithin(proc: ServiceProcess, ms: number): Promise<number | null> {
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), ms);
  try {
    return await proc.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** A service process on `databaseUrl` (already migrated), answering /readyz; `adminUrl` is its admin listener. */
export async function startInstance(databaseUrl: string, env: Record<string, string> = {}): Promise<{ proc: ServiceProcess; url: string; adminUrl: string }> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const proc = spawnService({
    DATABASE_URL: databaseUrl,
    PORT: String(port),
    HOST: "127.0.0.1",
    ADMIN_PORT: String(adminPort),
    LOG_LEVEL: "warn",
    MIGRATIONS_RUN: "false",
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (await isReady(url)) return { proc, url, adminUrl };
    if (Date.now() > deadline) throw new Error(`instance not ready in 30 s; output:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
