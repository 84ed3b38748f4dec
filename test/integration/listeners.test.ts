// Reports hold personal data, so they have a listener of their own. A reverse proxy on this machine
// that adds no forwarding header (plain nginx proxy_pass, HAProxy without forwardfor, stunnel, a
// sidecar) connects from loopback like a local user; through it, neither listener gives reports away
// without credentials. The admin listener is on loopback by default, out of the network's reach.
import assert from "node:assert/strict";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { messageEvent, signedHeaders } from "../../scripts/lib/sample-events.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, TEST_KEY, type TestService } from "../helpers/service.js";
import { TcpProxy } from "../helpers/tcp-proxy.js";

let db: TestDatabase;
const SECRET_ADDRESS = "private.person@example.com";
const PERSON = { id: "lst-person", email: SECRET_ADDRESS, cioId: "" };
const REPORT_PATHS = ["/reports", "/reports/api/funnel", "/reports/api/openapi.json", `/reports/api/people/email/${encodeURIComponent(SECRET_ADDRESS)}/deliveries`, "/reports/api/deliveries/lst-1"];

before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db.drop();
});

/** A loopback TCP proxy in front of a listener: it adds no header, so requests through it look local. */
async function proxyTo(url: string): Promise<{ proxy: TcpProxy; url: string }> {
  const u = new URL(url);
  const proxy = new TcpProxy(u.hostname, Number(u.port));
  await proxy.listen();
  return { proxy, url: `http://127.0.0.1:${proxy.port}` };
}

async function withService<T>(env: Record<string, string>, fn: (svc: TestService) => Promise<T>): Promise<T> {
  const svc = await startTestService(db.url, { REPORTER_ENABLED: "false", ...env });
  try {
    const event = messageEvent({ objectType: "email", metric: "sent", deliveryId: "lst-1", person: PERSON });
    assert.equal((await svc.webhook(event)).status, 200);
    return await fn(svc);
  } finally {
    await svc.stop();
  }
}

/** Whether a TCP connection to host:port is accepted. */
const connects = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, host);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });

describe("a local proxy that adds no forwarding header", () => {
  it("gets no reports from the public listener without REPORTS_CREDENTIALS: they are not served there at all", async () => {
    await withService({}, async (svc) => {
      const { proxy, url } = await proxyTo(svc.url);
      try {
        // The proxy does reach the service: the webhook endpoint answers through it.
        const event = messageEvent({ objectType: "email", metric: "delivered", deliveryId: "lst-1", person: PERSON });
        const body = JSON.stringify(event);
        assert.equal((await fetch(`${url}/webhooks/customerio`, { method: "POST", headers: signedHeaders(TEST_KEY, body), body })).status, 200);
        for (const path of REPORT_PATHS) {
          const res = await fetch(`${url}${path}`);
          const text = await res.text();
          assert.equal(res.status, 404, `${path} through the proxy`);
          assert.ok(!text.includes(SECRET_ADDRESS), `${path}: the address does not leak`);
        }
      } finally {
        await proxy.close();
      }
    });
  });

  it("gets a 401 asking for Basic auth from either listener with REPORTS_CREDENTIALS, and reports only with them", async () => {
    await withService({ REPORTS_CREDENTIALS: "analyst:s3cret" }, async (svc) => {
      const proxies = [await proxyTo(svc.url), await proxyTo(svc.adminUrl)];
      try {
        for (const { url } of proxies) {
          for (const path of REPORT_PATHS) {
            const res = await fetch(`${url}${path}`);
            const text = await res.text();
            assert.equal(res.status, 401, `${path} through a proxy to ${url}`);
            assert.match(res.headers.get("www-authenticate") ?? "", /^Basic realm="reports"/);
            assert.ok(!text.includes(SECRET_ADDRESS), `${path}: the address does not leak`);
          }
          const authorization = `Basic ${Buffer.from("analyst:s3cret").toString("base64")}`;
          const person = await fetch(`${url}${REPORT_PATHS[3]}`, { headers: { authorization } });
          assert.equal(person.status, 200);
          assert.match(await person.text(), /lst-1/, "with the credentials, the person's deliveries");
        }
      } finally {
        for (const { proxy } of proxies) await proxy.close();
      }
    });
  });
});

describe("the admin listener", () => {
  it("listens on loopback only by default: the public listener's wildcard address answers on 127.0.0.2, the admin one does not", async () => {
    // The public listener as it is by default (every interface); ADMIN_HOST left to its default.
    await withService({ HOST: "0.0.0.0" }, async (svc) => {
      const admin = svc.service.adminServer.address() as AddressInfo;
      assert.equal(admin.address, "127.0.0.1");
      const publicPort = Number(new URL(svc.url).port);
      // Linux routes all of 127.0.0.0/8 to this machine: a socket on every interface takes 127.0.0.2,
      // one bound to 127.0.0.1 alone refuses it, as it refuses the machine's network addresses.
      assert.equal(await connects("127.0.0.2", publicPort), true, "control: 127.0.0.2 reaches a wildcard listener");
      assert.equal(await connects("127.0.0.2", admin.port), false, "the admin listener is not reachable on another address");
      assert.equal(await connects("127.0.0.1", admin.port), true);
    });
  });

  it("serves the dashboard, its API and OpenAPI document to this machine, and leads / to the dashboard", async () => {
    await withService({}, async (svc) => {
      const home = await fetch(`${svc.adminUrl}/`, { redirect: "manual" });
      assert.equal(home.status, 302);
      assert.equal(home.headers.get("location"), "/reports");
      const followed = await fetch(`${svc.adminUrl}/`);
      assert.equal(followed.status, 200);
      assert.match(await followed.text(), /<h1>Deliveries: all origins/);
      assert.equal((await fetch(`${svc.adminUrl}/reports/api/openapi.json`)).status, 200);
      const person = await fetch(`${svc.adminUrl}${REPORT_PATHS[3]}`);
      assert.equal(person.status, 200);
      // Webhooks, the relay and unsubscribe pages stay on the public listener.
      assert.equal((await fetch(`${svc.adminUrl}/webhooks/customerio`, { method: "POST", body: "{}" })).status, 404);
      assert.equal((await fetch(`${svc.adminUrl}/unsubscribe/lst-1`)).status, 404);
      assert.equal((await fetch(`${svc.url}/`)).status, 404, "the public listener has no front page");
    });
  });
});
