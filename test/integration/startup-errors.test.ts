// What `npm start` says when it cannot start: one line naming the problem and the fix, no stack
// trace, no password. Real processes against a real PostgreSQL, a closed port, a server that is not
// PostgreSQL, and a port already taken.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { exitCodeWithin, freePort, spawnService } from "../helpers/process.js";

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db.drop();
});

async function failedStart(env: Record<string, string>): Promise<string> {
  const svc = spawnService({ CIO_WEBHOOK_SIGNING_KEYS: "startup-errors-key", HOST: "127.0.0.1", PORT: String(await freePort()), ...env });
  assert.equal(await exitCodeWithin(svc, 30_000), 1, svc.output());
  // Log lines (JSON) may come before it; the failure itself is one line of text.
  const text = svc.output().trim().split("\n").filter((l) => !l.startsWith("{"));
  assert.equal(text.length, 1, `one line, no stack trace:\n${svc.output()}`);
  return text[0]!;
}

const withPassword = (url: string, password: string) => Object.assign(new URL(url), { password }).toString();

describe("start-up errors", () => {
  it("a wrong database password", async () => {
    const line = await failedStart({ DATABASE_URL: withPassword(db.url, "not-the-password-42") });
    const server = `${new URL(db.url).hostname}:${new URL(db.url).port}`;
    assert.equal(line, `Failed to start: The database at ${server} refused the password of user "postgres": fix the user name or password in DATABASE_URL.`);
    assert.doesNotMatch(line, /not-the-password-42/);
  });

  it("a database host where nothing listens", async () => {
    const port = await freePort();
    const line = await failedStart({ DATABASE_URL: `postgres://app:secret-pw@127.0.0.1:${port}/cio` });
    assert.equal(line, `Failed to start: Nothing accepts connections at 127.0.0.1:${port}: start PostgreSQL there, or fix the host and port in DATABASE_URL.`);
  });

  it("a database host that hangs up (not PostgreSQL, or wants SSL)", async () => {
    const hangUp = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => hangUp.listen(0, "127.0.0.1", resolve));
    const port = (hangUp.address() as net.AddressInfo).port;
    try {
      const line = await failedStart({ DATABASE_URL: `postgres://app:secret-pw@127.0.0.1:${port}/cio` });
      assert.match(line, new RegExp(`^Failed to start: The server at 127\\.0\\.0\\.1:${port} closed the connection at once: check that DATABASE_URL names a PostgreSQL server`));
      assert.doesNotMatch(line, /Connection terminated unexpectedly|secret-pw/);
    } finally {
      hangUp.close();
    }
  });

  it("a database that does not exist", async () => {
    const line = await failedStart({ DATABASE_URL: Object.assign(new URL(db.url), { pathname: "/no_such_database" }).toString() });
    assert.match(line, /The database "no_such_database" does not exist on .*: create it \(createdb no_such_database\), or fix the database name in DATABASE_URL\.$/);
  });

  it("an HTTP port already in use, suggesting PORT", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const line = await failedStart({ DATABASE_URL: db.url, PORT: String(port) });
      assert.equal(line, `Failed to start: Port ${port} is already in use on 127.0.0.1 (another program, or this service already running): stop it, or set PORT to a free port (e.g. PORT=${port + 1}).`);
    } finally {
      taken.close();
    }
  });
});
