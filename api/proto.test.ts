import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { loadApiModel, ProtoField, ProtoMessage, ProtoModel } from "./testing/proto-model";

const model: ProtoModel = loadApiModel();

interface Codec {
  encode(message: unknown): { finish(): Uint8Array };
  decode(input: Uint8Array): unknown;
  fromPartial(object: unknown): unknown;
}

function codec(message: ProtoMessage): Codec {
  // The generated module is chosen by the message's file at run time.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(`./gen/${message.file.replace(/\.proto$/, "")}`) as Record<string, Codec>;
  const c = mod[message.exportName];
  if (!c?.encode)
    throw new Error(`api/gen has no codec ${message.exportName} for ${message.fullName}`);
  return c;
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

// Values that are never a field's default, so proto3 always puts them on the wire.
function scalar(type: string): unknown {
  const values: Record<string, unknown> = {
    string: "weft",
    bytes: new Uint8Array([1, 2, 3]),
    bool: true,
    uint32: 7,
    int32: -7,
    uint64: 9n,
    int64: -9n,
    fixed64: 0x0102030405060708n,
    fixed32: 0x7f000001,
    float: 0.5,
    double: 0.25,
  };
  return values[type];
}

function value(field: { type: string }, depth: number): unknown {
  if (model.enums.has(field.type)) return 1;
  const message = model.messages.get(field.type);
  return message ? sample(message, depth + 1) : scalar(field.type);
}

function fieldValue(field: ProtoField, depth: number): unknown {
  if (field.label === "repeated") return [value(field, depth)];
  if (field.label === "map") return { k: value({ type: field.mapValue! }, depth) };
  return value(field, depth);
}

/** A message with every field set (the chosen member of each oneof), nesting bounded by depth. */
function sample(
  message: ProtoMessage,
  depth = 0,
  oneofChoice: Record<string, string> = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (depth > 3) return out;
  for (const field of message.fields) {
    const v = fieldValue(field, depth);
    if (!field.oneof) out[camel(field.name)] = v;
    else if ((oneofChoice[field.oneof] ?? firstMember(message, field.oneof)) === field.name) {
      out[camel(field.oneof)] = { $case: camel(field.name), [camel(field.name)]: v };
    }
  }
  return out;
}

function firstMember(message: ProtoMessage, oneof: string): string {
  return message.fields.find((f) => f.oneof === oneof)!.name;
}

/** Field numbers on the wire at the top level of an encoded message. */
function wireFieldNumbers(bytes: Uint8Array): number[] {
  const reader = new BinaryReader(bytes);
  const numbers: number[] = [];
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    numbers.push(fieldNo);
    reader.skip(wireType);
  }
  return [...new Set(numbers)].sort((a, b) => a - b);
}

/** Each oneof member chosen once, so every variant is encoded at least once. */
function variants(message: ProtoMessage): Record<string, string>[] {
  const oneofMembers = message.fields.filter((f) => f.oneof);
  return oneofMembers.length ? oneofMembers.map((f) => ({ [f.oneof!]: f.name })) : [{}];
}

describe("proto contracts", () => {
  it("api/gen is generated from api/proto (run make gen)", function () {
    this.timeout(60_000);
    const out = mkdtempSync(join(tmpdir(), "weft-gen-"));
    try {
      execFileSync("bash", [join(__dirname, "..", "hack", "gen-proto.sh"), out], { stdio: "pipe" });
      const committed = listFiles(join(__dirname, "gen"));
      expect(listFiles(out).map((f) => relative(out, f))).to.deep.equal(
        committed.map((f) => relative(join(__dirname, "gen"), f)),
      );
      for (const file of listFiles(out)) {
        const mine = readFileSync(join(__dirname, "gen", relative(out, file)), "utf8");
        expect(readFileSync(file, "utf8"), relative(out, file)).to.equal(mine);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("reads every message type of api/proto", () => {
    expect(model.messages.size).to.be.greaterThan(60);
  });

  for (const message of [...model.messages.values()]) {
    for (const choice of variants(message)) {
      const label = Object.values(choice).join(",");
      it(`${message.fullName}${label ? ` (${label})` : ""} round-trips and uses its field numbers`, () => {
        const c = codec(message);
        const original = c.fromPartial(sample(message, 0, choice));
        const bytes = c.encode(original).finish();
        expect(c.decode(bytes)).to.deep.equal(original);
        const expected = message.fields
          .filter((f) => !f.oneof || (choice[f.oneof] ?? firstMember(message, f.oneof)) === f.name)
          .map((f) => f.number)
          .sort((a, b) => a - b);
        expect(wireFieldNumbers(bytes)).to.deep.equal(expected);
      });
    }
  }
});

function listFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? listFiles(path) : [path];
    })
    .sort();
}
