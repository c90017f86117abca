import type { NatState } from "./rules";

/** Splits one iptables-save line into arguments, honouring double quotes and backslashes. */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inToken = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "\\" && i + 1 < line.length) {
      cur += line[++i];
      inToken = true;
    } else if (c === '"') {
      quoted = !quoted;
      inToken = true;
    } else if (/\s/.test(c) && !quoted) {
      if (inToken) out.push(cur);
      cur = "";
      inToken = false;
    } else {
      cur += c;
      inToken = true;
    }
  }
  if (inToken) out.push(cur);
  return out;
}

/** The nat table's chains and rules from `iptables-save -t nat` output. */
export function parseNatSave(text: string): NatState {
  const state: NatState = { chains: new Set(), rules: [] };
  let inNat = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("*")) inNat = line.trim() === "*nat";
    else if (!inNat || line === "COMMIT") continue;
    else if (line.startsWith(":")) state.chains.add(line.slice(1).split(" ")[0]);
    else if (line.startsWith("-A ")) state.rules.push(tokenize(line));
  }
  return state;
}

/** iptables-save output without comments and packet counters, for comparing two states. */
export function normalizeSave(text: string): string {
  return text
    .split("\n")
    .filter((l) => !l.startsWith("#") && l.trim() !== "")
    .map((l) => l.replace(/\[\d+:\d+\]/g, "[0:0]"))
    .join("\n");
}
