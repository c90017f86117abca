// A destination outage on loopback, through the real proxy: the destination gRPC server is
// stopped and started again on the same port. Known targets keep working from the last state;
// a target never resolved fails fast (503) while it is down; once it is back, a new lookup
// resolves promptly (the channel reconnects within a second and calls wait for it).
import { expect } from "chai";
import * as http from "node:http";
import { event, serviceObject, sliceObject } from "../../operator/destination/fixtures";
import {
  DEFAULT_OPTIONS,
  startDestination,
  type RunningDestination,
} from "../../operator/destination/main";
import { FeedWatchSource } from "../../operator/destination/watch";
import { loadConfig } from "../config";
import { ProxyMetrics } from "../metrics/metrics";
import type { RunningProxy } from "../proxy";
import type { DiscoveryStack } from "../routes/stack";
import { closeServer, listenOn, startDiscoveryProxy, testEnv } from "../testkit";
import { noTls } from "../tls/seam";

const NAMES = ["known", "during", "after", "later"];

/** The same cluster state each time the destination starts: every name served by `port`. */
function feedFor(port: number): FeedWatchSource {
  const feed = new FeedWatchSource();
  for (const n of NAMES) {
    feed.push(event("Service", serviceObject("shop", n, [{ name: "http", port: 80 }])));
    feed.push(
      event(
        "EndpointSlice",
        sliceObject("shop", `${n}-a`, n, [{ name: "http", port }], [{ ip: "127.0.0.1" }]),
      ),
    );
  }
  return feed;
}

interface Reply {
  status: number;
  error: string;
  ms: number;
}

function get(port: number, name: string): Promise<Reply> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const headers = { host: `${name}.shop.svc.cluster.local` };
    http
      .get({ host: "127.0.0.1", port, path: "/", headers, agent: false }, (res) => {
        res.resume();
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            error: String(res.headers["l5d-proxy-error"] ?? ""),
            ms: performance.now() - t0,
          }),
        );
      })
      .on("error", reject);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("destination outage (loopback, destination stopped and restarted)", function () {
  this.timeout(60_000);
  let app: http.Server;
  let appPort: number;
  let dest: RunningDestination | undefined;
  let stack: DiscoveryStack;
  let proxy: RunningProxy;

  before(async () => {
    app = http.createServer((_req, res) => res.end("ok"));
    appPort = await listenOn(app);
    dest = await startDestination({ ...DEFAULT_OPTIONS, addr: "127.0.0.1:0" }, feedFor(appPort));
    const config = loadConfig(
      testEnv(80, {
        WEFT_PROXY_DESTINATION_SVC_ADDR: `127.0.0.1:${dest.port}`,
        WEFT_PROXY_DESTINATION_CONTEXT: '{"ns":"shop"}',
      }),
    );
    const metrics = new ProxyMetrics();
    const tls = noTls(true);
    ({ proxy, stack } = await startDiscoveryProxy(config, { tls, metrics }));
  });

  after(async () => {
    await proxy.close();
    stack.close();
    await dest?.stop();
    await closeServer(app);
  });

  it("keeps known targets, fails new ones fast while down, and resolves new ones soon after", async () => {
    const port = dest!.port;
    expect((await get(proxy.outbound.port, "known")).status).to.equal(200);
    await dest!.stop();
    dest = undefined;

    // Known: served from the last state. Never resolved: 503 within the failfast timeout.
    const during = await Promise.all([
      get(proxy.outbound.port, "known"),
      get(proxy.outbound.port, "during"),
    ]);
    expect(during[0].status).to.equal(200);
    expect(during[1].status).to.equal(503);
    expect(during[1].error).to.match(/no ready endpoint/);
    expect(during[1].ms).to.be.lessThan(4500);

    // Long enough for the old backoffs (10 s) to have grown to their maximum.
    await sleep(12_000);
    dest = await startDestination(
      { ...DEFAULT_OPTIONS, addr: `127.0.0.1:${port}` },
      feedFor(appPort),
    );
    const back = performance.now();
    const after = await get(proxy.outbound.port, "after");
    const firstOk = after.status === 200 ? performance.now() - back : Infinity;
    expect(after.status, JSON.stringify(after)).to.equal(200);
    expect(firstOk).to.be.lessThan(5000);
    // The target tried during the outage recovers too.
    expect((await get(proxy.outbound.port, "during")).status).to.equal(200);
  });
});
