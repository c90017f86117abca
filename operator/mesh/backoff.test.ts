import { expect } from "chai";
import { backoffDelay, Requeue, type Timer } from "./backoff";

function fakeTimer(): {
  timer: Timer;
  pending: { fn: () => void; ms: number; cancelled: boolean }[];
} {
  const pending: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  const timer: Timer = (fn, ms) => {
    const t = { fn, ms, cancelled: false };
    pending.push(t);
    return { cancel: () => (t.cancelled = true) };
  };
  return { timer, pending };
}

describe("backoff", () => {
  it("doubles from 1 s up to 60 s, with jitter only shortening", () => {
    const none = () => 0;
    expect([1, 2, 3, 7, 20].map((a) => backoffDelay(a, undefined, none))).to.deep.equal([
      1000, 2000, 4000, 60000, 60000,
    ]);
    expect(backoffDelay(1, undefined, () => 1)).to.equal(800);
  });

  it("retries a failing reconcile with growing delays and resets after success", async () => {
    const { timer, pending } = fakeTimer();
    let fail = 2;
    const errors: number[] = [];
    const q = new Requeue<string>(
      async () => {
        if (fail-- > 0) throw new Error("boom");
        return "ok";
      },
      () => 30000,
      (_k, _e, ms) => errors.push(ms),
      timer,
      { initialMs: 100, maxMs: 1000, jitter: 0 },
    );
    await q.trigger("weft");
    expect(q.attemptsOf("weft")).to.equal(1);
    await q.trigger("weft");
    expect(errors).to.deep.equal([100, 200]);
    await q.trigger("weft");
    expect(q.attemptsOf("weft")).to.equal(0);
    expect(pending.at(-1)!.ms).to.equal(30000);
    expect(pending.slice(0, -1).every((p) => p.cancelled)).to.equal(true);
  });

  it("never runs the same key twice at once and forgets deleted keys", async () => {
    const { timer, pending } = fakeTimer();
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const q = new Requeue<void>(
      async () => {
        running++;
        runs++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
      },
      () => 1000,
      () => undefined,
      timer,
    );
    await Promise.all([q.trigger("a"), q.trigger("a"), q.trigger("a")]);
    expect(maxRunning).to.equal(1);
    expect(runs).to.equal(2);
    q.forget("a");
    expect(pending.every((p) => p.cancelled)).to.equal(true);
  });
});
