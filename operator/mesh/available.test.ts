import { expect } from "chai";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { availableComponents } from "./available";

describe("availableComponents", () => {
  it("prefers WEFT_COMPONENTS, then the shipped list, then the sources present", () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-avail-"));
    expect(availableComponents({ WEFT_COMPONENTS: "identity, web" }, dir)).to.deep.equal([
      "identity",
      "web",
    ]);
    const file = join(dir, "components.json");
    writeFileSync(file, JSON.stringify(["destination"]));
    expect(availableComponents({ WEFT_COMPONENTS_FILE: file }, dir)).to.deep.equal(["destination"]);
    mkdirSync(join(dir, "operator", "identity"), { recursive: true });
    writeFileSync(join(dir, "operator", "identity", "main.ts"), "");
    expect(
      availableComponents({ WEFT_COMPONENTS_FILE: join(dir, "none.json") }, dir),
    ).to.deep.equal(["identity"]);
  });
});
