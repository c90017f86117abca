import { expect } from "chai";
import {
  OriginalDestinationResolver,
  defaultEndpoint,
  endpointKey,
  loopbackFor,
  pickEndpoint,
} from "./resolver";

describe("default resolver", () => {
  it("sends outbound traffic to the original destination", async () => {
    const set = await new OriginalDestinationResolver().resolve({
      direction: "outbound",
      address: "10.1.2.3",
      port: 8080,
    });
    expect(set.endpoints).to.deep.equal([{ address: "10.1.2.3", port: 8080 }]);
  });

  it("sends inbound traffic to the application on loopback at the original port", () => {
    expect(
      defaultEndpoint({ direction: "inbound", address: "10.1.2.3", port: 8080 }),
    ).to.deep.equal({ address: "127.0.0.1", port: 8080 });
    expect(defaultEndpoint({ direction: "inbound", address: "fd00::3", port: 80 })).to.deep.equal({
      address: "::1",
      port: 80,
    });
    expect(loopbackFor("::ffff:10.0.0.1")).to.equal("127.0.0.1");
  });

  it("picks the first endpoint, none from an empty set, and keys endpoints by address", () => {
    expect(pickEndpoint({ endpoints: [] })).to.equal(undefined);
    expect(
      pickEndpoint({
        endpoints: [
          { address: "a", port: 1 },
          { address: "b", port: 2 },
        ],
      })?.address,
    ).to.equal("a");
    expect(endpointKey({ address: "fd00::1", port: 80 })).to.equal("[fd00::1]:80");
    expect(endpointKey({ address: "10.0.0.1", port: 80 })).to.equal("10.0.0.1:80");
  });
});
