// Adjusts the Pepr module's generated manifest before it is installed. Pepr caps its admission
// and watcher containers at 500m CPU; a CPU limit makes the kernel throttle a busy webhook for
// the rest of each 100 ms period, which shows up as tens of milliseconds of admission latency
// in a burst of pod creations. The request (what the scheduler reserves) stays as Pepr sets it.
//   node --require tsx/cjs operator/install/module.ts <pepr-module.yaml>   (rewrites it in place)
import { readFileSync, writeFileSync } from "node:fs";
import { parseAllDocuments, stringify } from "yaml";

type Obj = Record<string, unknown>;

interface Container {
  name?: string;
  resources?: { limits?: Obj; requests?: Obj };
}

function containersOf(doc: Obj): Container[] {
  if (doc.kind !== "Deployment") return [];
  const spec = (doc.spec as Obj | undefined)?.template as Obj | undefined;
  const pod = spec?.spec as { containers?: Container[] } | undefined;
  return pod?.containers ?? [];
}

/** The manifest's objects with every Deployment container's CPU limit removed; also how many. */
export function dropCpuLimits(docs: Obj[]): { docs: Obj[]; dropped: number } {
  let dropped = 0;
  for (const doc of docs) {
    for (const c of containersOf(doc)) {
      const limits = c.resources?.limits;
      if (limits === undefined || !("cpu" in limits)) continue;
      delete limits.cpu;
      dropped++;
    }
  }
  return { docs, dropped };
}

function main(file: string): void {
  const docs = parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJS() as Obj);
  const { dropped } = dropCpuLimits(docs);
  writeFileSync(file, docs.map((d) => `---\n${stringify(d)}`).join(""));
  process.stdout.write(`${file}: CPU limit removed from ${dropped} container(s)\n`);
}

if (require.main === module) main(process.argv[2]);
