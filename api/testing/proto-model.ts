// A small reader of our .proto files (the subset we write: messages, enums, oneofs, maps),
// so tests can walk every message type and check the generated code against its source.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface ProtoField {
  name: string;
  number: number;
  type: string; // scalar name or the resolved full name of a message/enum
  label: "single" | "repeated" | "map";
  mapValue?: string; // for maps: the value type (keys are strings in our protos)
  oneof?: string;
}

export interface ProtoMessage {
  fullName: string; // io.linkerd.proxy.destination.RequestMatch.Seq
  file: string; // destination.proto
  exportName: string; // RequestMatch_Seq
  fields: ProtoField[];
}

export const SCALARS = new Set([
  "string",
  "bytes",
  "bool",
  "uint32",
  "int32",
  "uint64",
  "int64",
  "fixed32",
  "fixed64",
  "float",
  "double",
]);

interface Scope {
  prefix: string; // package + enclosing messages
  exportPrefix: string;
}

interface RawField extends Omit<ProtoField, "type" | "mapValue"> {
  rawType: string;
  rawMapValue?: string;
  scope: string;
}

function tokenize(source: string): string[] {
  const text = source.replace(/\/\/[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, "");
  return text.match(/"[^"]*"|[A-Za-z0-9_.]+|[{}=;<>,()\[\]]/g) ?? [];
}

class Parser {
  private i = 0;
  readonly messages: (ProtoMessage & { raw: RawField[] })[] = [];
  readonly enums = new Set<string>();

  constructor(
    private readonly tokens: string[],
    private readonly file: string,
  ) {}

  parse(): void {
    let pkg = "";
    while (this.i < this.tokens.length) {
      const t = this.tokens[this.i++];
      if (t === "package") pkg = this.tokens[this.i++];
      else if (t === "message") this.message({ prefix: pkg, exportPrefix: "" });
      else if (t === "enum") this.enumBlock({ prefix: pkg, exportPrefix: "" });
      else if (t === "service") this.skipBlock();
    }
  }

  private skipBlock(): void {
    while (this.tokens[this.i] !== "{") this.i++;
    let depth = 0;
    do {
      const t = this.tokens[this.i++];
      if (t === "{") depth++;
      if (t === "}") depth--;
    } while (depth > 0);
  }

  private enumBlock(scope: Scope): void {
    this.enums.add(`${scope.prefix}.${this.tokens[this.i]}`);
    this.skipBlock();
  }

  private message(scope: Scope): void {
    const name = this.tokens[this.i++];
    const fullName = `${scope.prefix}.${name}`;
    const exportName = scope.exportPrefix ? `${scope.exportPrefix}_${name}` : name;
    const msg = { fullName, file: this.file, exportName, fields: [], raw: [] as RawField[] };
    this.messages.push(msg);
    this.i++; // {
    this.body(msg.raw, { prefix: fullName, exportPrefix: exportName }, undefined);
  }

  private body(raw: RawField[], scope: Scope, oneof: string | undefined): void {
    for (;;) {
      const t = this.tokens[this.i++];
      if (t === "}") return;
      if (t === "message") this.message(scope);
      else if (t === "enum") this.enumBlock(scope);
      else if (t === "oneof") {
        const name = this.tokens[this.i++];
        this.i++; // {
        this.body(raw, scope, name);
      } else if (t === "reserved" || t === "option") this.skipStatement();
      else raw.push(this.field(t, scope.prefix, oneof));
    }
  }

  private skipStatement(): void {
    while (this.tokens[this.i++] !== ";");
  }

  private field(first: string, scope: string, oneof: string | undefined): RawField {
    let label: ProtoField["label"] = "single";
    let rawType = first;
    let rawMapValue: string | undefined;
    if (first === "repeated") {
      label = "repeated";
      rawType = this.tokens[this.i++];
    } else if (first === "map") {
      label = "map";
      // map < key , value >
      rawType = this.tokens[this.i + 1];
      rawMapValue = this.tokens[this.i + 3];
      this.i += 5;
    }
    const name = this.tokens[this.i++];
    this.i++; // =
    const number = Number(this.tokens[this.i++]);
    this.skipStatement();
    return { name, number, label, rawType, rawMapValue, oneof, scope };
  }
}

/** Resolves a type name the way protoc does: innermost scope outwards, then fully qualified. */
function resolve(name: string, scope: string, known: Set<string>): string {
  if (SCALARS.has(name)) return name;
  const parts = scope.split(".");
  for (let n = parts.length; n >= 0; n--) {
    const candidate = [...parts.slice(0, n), name].filter(Boolean).join(".");
    if (known.has(candidate)) return candidate;
  }
  throw new Error(`cannot resolve proto type ${name} in ${scope}`);
}

export interface ProtoModel {
  messages: Map<string, ProtoMessage>;
  enums: Set<string>;
}

export function loadProtoModel(
  dir: string,
  extraFiles: { name: string; source: string }[] = [],
): ProtoModel {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".proto"))
    .map((name) => ({ name, source: readFileSync(join(dir, name), "utf8") }));
  const parsers = [...files, ...extraFiles].map((f) => {
    const p = new Parser(tokenize(f.source), f.name);
    p.parse();
    return p;
  });
  const all = parsers.flatMap((p) => p.messages);
  const enums = new Set(parsers.flatMap((p) => [...p.enums]));
  const known = new Set([...all.map((m) => m.fullName), ...enums]);
  const messages = new Map<string, ProtoMessage>();
  for (const m of all) {
    const fields = m.raw.map(({ rawType, rawMapValue, scope, ...f }) => ({
      ...f,
      type: resolve(rawType, scope, known),
      mapValue: rawMapValue ? resolve(rawMapValue, scope, known) : undefined,
    }));
    messages.set(m.fullName, {
      fullName: m.fullName,
      file: m.file,
      exportName: m.exportName,
      fields,
    });
  }
  return { messages, enums };
}

// The well-known types our protos import, as protoc's include directory defines them.
const WELL_KNOWN = [
  {
    name: "google/protobuf/duration.proto",
    source: "package google.protobuf; message Duration { int64 seconds = 1; int32 nanos = 2; }",
  },
  {
    name: "google/protobuf/timestamp.proto",
    source: "package google.protobuf; message Timestamp { int64 seconds = 1; int32 nanos = 2; }",
  },
];

/** The model of api/proto plus the well-known types it imports. */
export function loadApiModel(): ProtoModel {
  return loadProtoModel(join(__dirname, "..", "proto"), WELL_KNOWN);
}
