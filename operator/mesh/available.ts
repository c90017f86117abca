// Which control-plane components this build can run: WEFT_COMPONENTS, else the list the
// controller image ships (/app/components.json), else the operator/<name>/main.ts files present.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { COMPONENTS } from "./components";

export function availableComponents(
  env: NodeJS.ProcessEnv = process.env,
  root = env.WEFT_SOURCE_ROOT ?? process.cwd(),
): string[] {
  if (env.WEFT_COMPONENTS) return env.WEFT_COMPONENTS.split(",").map((s) => s.trim());
  const shipped = env.WEFT_COMPONENTS_FILE ?? "/app/components.json";
  if (existsSync(shipped)) return JSON.parse(readFileSync(shipped, "utf8")) as string[];
  return COMPONENTS.map((c) => c.name).filter((name) =>
    existsSync(join(root, "operator", name, "main.ts")),
  );
}
