import { expect } from "chai";
import * as http from "node:http";
import * as net from "node:net";
import { Registry } from "prom-client";
import { event, serviceObject, sliceObject } from "../../operator/destination/fixtures";
import { DEFAULT_OPTIONS, startDestination } from "../../operator/destination/main";
import { FeedWatchSource } from "../../operator/destination/watch";
import { Discovery } from "../discovery/client";
import { outboundHttpConnections } from "./adapter";
import { OutboundHttp } from "./http";
import { RouteMetricFamilies } from "./metrics";

describe("outbound HTTP connection adapter", function () {
  this.timeout(10000);

  it("serves a detected connection (first bytes already read) through discovery and balancing", async () => {
    const backend = http.createServer((req, res) =>
      res.writeHead(200, { "x-path": req.url ?? "" }).end("ok"),
    );
    await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
    const port = (backend.address() as net.AddressInfo).port;
    const feed = new FeedWatchSource();
    feed.push(event("Service", serviceObject("shop", "web", [{ name: "http", port: 80 }])));
    feed.push(
      event(
        "EndpointSlice",
        sliceObject("shop", "web-a", "web", [{ name: "http", port }], [{ ip: "127.0.0.1" }]),
      ),
    );
    const dest = await startDestination({ ...DEFAULT_OPTIONS, addr: "127.0.0.1:0" }, feed);
    const discovery = new Discovery({ address: `127.0.0.1:${dest.port}`, contextToken: "" });
    const outbound = new OutboundHttp({
      discovery,
      metrics: new RouteMetricFamilies(new Registry()),
    });
    const handle = outboundHttpConnections(outbound);
    const listener = net.createServer((socket) => {
      socket.once("readable", () => {
        const initial = socket.read(4) as Buffer;
        handle(socket, initial, { address: "10.96.0.10", port: 80 });
      });
    });
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    const lport = (listener.address() as net.AddressInfo).port;
    const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http
        .get(
          {
            host: "127.0.0.1",
            port: lport,
            path: "/books/1",
            headers: { host: "web.shop.svc.cluster.local" },
          },
          resolve,
        )
        .on("error", reject),
    );
    res.resume();
    expect(res.statusCode).to.equal(200);
    expect(res.headers["x-path"]).to.equal("/books/1");
    outbound.close();
    discovery.close();
    listener.close();
    backend.close();
    await dest.stop();
  });
});
