import type { Netns } from "./netns";

const FETCH = `
const [url, method] = process.argv.slice(1);
const req = require("http").request(url, { method, timeout: 5000 }, (r) => {
  let b = ""; r.on("data", (d) => (b += d)); r.on("end", () => { console.log(JSON.stringify({ status: r.statusCode, body: b })); });
});
req.on("error", (e) => console.log(JSON.stringify({ status: 0, body: e.message })));
req.end();
`;

/** An HTTP request made from inside `ns` (to its own admin port, usually). */
export async function fetchIn(
  ns: Netns,
  url: string,
  method = "GET",
): Promise<{ status: number; body: string }> {
  const r = await ns.exec(process.execPath, ["-e", FETCH, url, method], 10_000);
  return JSON.parse(r.stdout.trim() || `{"status":0,"body":${JSON.stringify(r.stderr)}}`);
}

/** Sum of a metric family's samples whose label set contains every `labels` pair. */
export function metricSum(
  text: string,
  family: string,
  labels: Record<string, string> = {},
): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return text
    .split("\n")
    .filter((l) => l.startsWith(family + "{") || l.startsWith(family + " "))
    .filter((l) => want.every((w) => l.includes(w)))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}
