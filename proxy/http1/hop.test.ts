import { expect } from "chai";
import { parseHead } from "./head";
import {
  clientKeepAlive,
  isHopByHop,
  rewriteRequestHead,
  rewriteResponseHead,
  upstreamReusable,
  wantsUpgrade,
} from "./hop";

const req = (text: string) => parseHead(text, true);
const res = (text: string) => parseHead(text, false);

describe("hop-by-hop fields", () => {
  it("knows the RFC 9110 hop-by-hop fields and those named in Connection", () => {
    for (const name of ["Connection", "keep-alive", "Proxy-Connection", "Upgrade"])
      expect(isHopByHop(name, "x", undefined), name).to.equal(true);
    expect(isHopByHop("TE", "gzip", undefined)).to.equal(true);
    expect(isHopByHop("TE", "trailers", undefined)).to.equal(false);
    expect(isHopByHop("X-Secret", "1", ["x-secret"])).to.equal(true);
    expect(isHopByHop("Transfer-Encoding", "chunked", undefined)).to.equal(false);
    expect(isHopByHop("Trailer", "x-sum", undefined)).to.equal(false);
  });

  it("rewrites a request head without them", () => {
    const h = req(
      "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close, X-Secret\r\nX-Secret: s\r\nKeep-Alive: 5\r\nX-Kept: k",
    );
    expect(rewriteRequestHead(h)).to.equal("GET /x HTTP/1.1\r\nHost: a\r\nX-Kept: k\r\n\r\n");
  });

  it("keeps an upgrade the client asked for, and asks HTTP/1.0 upstreams for keep-alive", () => {
    const up = req("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket");
    expect(wantsUpgrade(up)).to.equal(true);
    expect(rewriteRequestHead(up)).to.equal(
      "GET /ws HTTP/1.1\r\nHost: a\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
    );
    const stray = req("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket");
    expect(wantsUpgrade(stray)).to.equal(false);
    expect(rewriteRequestHead(req("GET / HTTP/1.0\r\nX: y"))).to.equal(
      "GET / HTTP/1.0\r\nX: y\r\nconnection: keep-alive\r\n\r\n",
    );
  });

  it("says what the proxy does with the client connection in the response head", () => {
    const r = res("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0");
    expect(rewriteResponseHead(r, "keep-alive", 1)).to.equal(
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    expect(rewriteResponseHead(r, "close", 1)).to.equal(
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nconnection: close\r\n\r\n",
    );
    expect(rewriteResponseHead(r, "keep-alive", 0)).to.include("connection: keep-alive\r\n");
    const sw = res(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: k",
    );
    expect(rewriteResponseHead(sw, "upgrade", 1)).to.equal(
      "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: k\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
    );
  });

  it("drops Content-Length from a response that also has Transfer-Encoding", () => {
    const r = res("HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked");
    expect(r.hopByHop).to.equal(true);
    expect(rewriteResponseHead(r, "keep-alive", 1)).to.equal(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
  });

  it("decides persistence per hop", () => {
    expect(clientKeepAlive(req("GET / HTTP/1.1\r\nHost: a"))).to.equal(true);
    expect(clientKeepAlive(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: close"))).to.equal(false);
    expect(clientKeepAlive(req("GET / HTTP/1.0"))).to.equal(false);
    expect(clientKeepAlive(req("GET / HTTP/1.0\r\nConnection: keep-alive"))).to.equal(true);
    expect(upstreamReusable(res("HTTP/1.1 200 OK"))).to.equal(true);
    expect(upstreamReusable(res("HTTP/1.1 200 OK\r\nConnection: close"))).to.equal(false);
    expect(upstreamReusable(res("HTTP/1.0 200 OK"))).to.equal(false);
  });
});
