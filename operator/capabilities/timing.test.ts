import { expect } from "chai";
import { admissionTiming, serveWithPepr } from "./timing";

function bucketLine(text: string, name: string, le: string, extra = ""): string | undefined {
  return text
    .split("\n")
    .find((l) => l.startsWith(`${name}_bucket{`) && l.includes(`le="${le}"`) && l.includes(extra));
}

describe("admission timing", () => {
  it("times a review from Pepr's before hook to its after hook, by kind and operation", async () => {
    let t = 0;
    const timing = admissionTiming(() => t);
    timing.before({ uid: "a", kind: { kind: "Pod" }, operation: "CREATE" });
    timing.before({ uid: "b", kind: { kind: "Mesh" }, operation: "UPDATE" });
    t = 4;
    timing.after({ uid: "a" });
    timing.after({ uid: "a" }); // a second response for the same review counts once
    t = 30;
    timing.after({ uid: "b" });
    timing.after({ uid: "never-started" });
    const text = await timing.registry.metrics();
    const name = "weft_admission_review_duration_seconds";
    expect(bucketLine(text, name, "0.003", 'kind="Pod"')).to.match(/ 0$/);
    expect(bucketLine(text, name, "0.005", 'kind="Pod",operation="CREATE"')).to.match(/ 1$/);
    expect(bucketLine(text, name, "0.025", 'kind="Mesh"')).to.match(/ 0$/);
    expect(bucketLine(text, name, "0.05", 'kind="Mesh"')).to.match(/ 1$/);
    expect(text).to.include(`${name}_count{kind="Pod",operation="CREATE"} 1`);
  });

  it("times the injector's handler whether it resolves or throws", async () => {
    let t = 0;
    const timing = admissionTiming(() => t);
    expect(
      await timing.timeMutate(async () => {
        t += 0.7;
        return "ok";
      }),
    ).to.equal("ok");
    const failing = timing.timeMutate(async () => {
      t += 12;
      throw new Error("boom");
    });
    await failing.then(
      () => expect.fail("should reject"),
      (err: Error) => expect(err.message).to.equal("boom"),
    );
    const text = await timing.registry.metrics();
    const name = "weft_injector_mutate_duration_seconds";
    expect(bucketLine(text, name, "0.0005")).to.match(/ 0$/);
    expect(bucketLine(text, name, "0.001")).to.match(/ 1$/);
    expect(bucketLine(text, name, "0.01")).to.match(/ 1$/);
    expect(bucketLine(text, name, "0.015")).to.match(/ 2$/);
  });

  it("forgets reviews that never finish once too many are in flight", async () => {
    const timing = admissionTiming(() => 0);
    for (let i = 0; i < 1001; i++) timing.before({ uid: String(i) });
    timing.after({ uid: "0" }); // evicted: no observation
    timing.after({ uid: "1000" });
    expect(await timing.registry.metrics()).to.include(
      'weft_admission_review_duration_seconds_count{kind="",operation=""} 1',
    );
  });

  it("appends its metrics to what Pepr's collector serves", async () => {
    const timing = admissionTiming(() => 0);
    const collector = { getMetrics: async (): Promise<string> => "pepr_errors 0" };
    serveWithPepr(collector, timing.registry);
    const text = await collector.getMetrics();
    expect(text.startsWith("pepr_errors 0\n# HELP weft_")).to.equal(true);
    expect(text).to.include("weft_injector_mutate_duration_seconds_count 0");
  });
});
