// A loopback TCP proxy in front of PostgreSQL that a test can switch between passing traffic,
// refusing connections (a server that is down) and black-holing them (a hung server or network).
import net from "node:net";

export type ProxyMode = "pass" | "refuse" | "blackhole";

export class TcpProxy {
  private server = net.createServer((client) => this.accept(client));
  private sockets = new Set<net.Socket>();
  private mode: ProxyMode = "pass";
  port = 0;

  constructor(private readonly upstreamHost: string, private readonly upstreamPort: number) {}

  static async forUrl(url: string): Promise<{ proxy: TcpProxy; url: string }> {
    const u = new URL(url);
    const proxy = new TcpProxy(u.hostname, Number(u.port || 5432));
    await proxy.listen();
    u.port = String(proxy.port);
    return { proxy, url: u.toString() };
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  setMode(mode: ProxyMode): void {
    this.mode = mode;
    if (mode !== "pass") {
      // Existing connections: cut them (refuse) or leave them hanging (blackhole: pause both sides).
      for (const s of this.sockets) {
        if (mode === "refuse") s.destroy();
        else s.pause();
      }
    } else {
      for (const s of this.sockets) s.resume();
    }
  }

  private accept(client: net.Socket): void {
    if (this.mode === "refuse") {
      client.destroy();
      return;
    }
    this.track(client);
    if (this.mode === "blackhole") {
      client.pause();
      return;
    }
    const upstream = net.connect(this.upstreamPort, this.upstreamHost);
    this.track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.on("close", () => this.sockets.delete(s));
    s.on("error", () => undefined);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
