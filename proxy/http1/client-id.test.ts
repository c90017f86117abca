import { expect } from "chai";
import { clientIdRewriteNeeded, withClientId } from "./client-id";
import { parseHead } from "./head";

const head = (fields: string) => parseHead(`GET / HTTP/1.1\r\nhost: a${fields}`, true);

describe("l5d-client-id on inbound HTTP/1", () => {
  it("rewrites only inbound heads with an identity or a client-sent field", () => {
    expect(clientIdRewriteNeeded(head(""), null)).to.equal(false);
    expect(clientIdRewriteNeeded(head("\r\nL5D-Client-Id: x"), null)).to.equal(false);
    expect(clientIdRewriteNeeded(head(""), { clientId: undefined })).to.equal(false);
    expect(clientIdRewriteNeeded(head(""), { clientId: "c" })).to.equal(true);
    expect(clientIdRewriteNeeded(head("\r\nL5D-Client-Id: x"), { clientId: undefined })).to.equal(
      true,
    );
  });

  it("strips what the client sent and adds the verified identity", () => {
    const wire = "GET / HTTP/1.1\r\nhost: a\r\nl5d-client-id: forged\r\nx: 1\r\n\r\n";
    expect(withClientId(wire, { clientId: "c.ns" })).to.equal(
      "GET / HTTP/1.1\r\nhost: a\r\nx: 1\r\nl5d-client-id: c.ns\r\n\r\n",
    );
    expect(withClientId(wire, { clientId: undefined })).to.equal(
      "GET / HTTP/1.1\r\nhost: a\r\nx: 1\r\n\r\n",
    );
  });
});
