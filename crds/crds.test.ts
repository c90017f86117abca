import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { CRD_FILES, renderCrd } from "./gen";
import { meshCrd } from "./mesh.schema";
import { Schema } from "./openapi";
import { serviceProfileCrd } from "./serviceprofile.schema";
import { CrdValidator, crdSchema, fieldPath } from "./validate";

const root = join(__dirname, "..");
const mesh = new CrdValidator(meshCrd);
const profile = new CrdValidator(serviceProfileCrd);

function sample(file: string): Record<string, unknown> {
  return parse(readFileSync(join(root, "config/samples", file), "utf8"));
}

function withSpec(base: Record<string, unknown>, spec: unknown): Record<string, unknown> {
  return { ...base, spec };
}

/** Every node of a schema with the JSON path that leads to it. */
function* walk(schema: Schema, path = ""): Generator<[string, Schema]> {
  yield [path, schema];
  for (const [key, child] of Object.entries(schema.properties ?? {}))
    yield* walk(child, `${path}.${key}`);
  if (schema.items) yield* walk(schema.items, `${path}[]`);
}

describe("CRDs", () => {
  for (const [file, crd] of Object.entries(CRD_FILES)) {
    it(`${file} is generated from the schema sources (run make gen)`, () => {
      expect(readFileSync(join(__dirname, file), "utf8")).to.equal(renderCrd(crd));
    });

    it(`${file} describes every field, so kubectl explain is useful`, () => {
      const undescribed = [...walk(crdSchema(crd))]
        .filter(([p, s]) => !s.description && p !== ".metadata")
        .map(([p]) => p);
      expect(undescribed).to.deep.equal([]);
    });
  }

  it("Mesh is cluster-scoped with the status subresource, short name, category and printer columns", () => {
    const spec = meshCrd.spec as any;
    expect(spec.scope).to.equal("Cluster");
    expect(spec.names.shortNames).to.deep.equal(["mesh"]);
    expect(spec.names.categories).to.include("weft");
    expect(spec.versions[0].subresources).to.deep.equal({ status: {} });
    const columns = spec.versions[0].additionalPrinterColumns.map((c: any) => c.name.toUpperCase());
    expect(columns).to.deep.equal(["READY", "VERSION", "MESHED", "MTLS", "AGE"]);
  });

  it("ServiceProfile is namespaced v1alpha2 with short name sp and printer columns", () => {
    const spec = serviceProfileCrd.spec as any;
    expect(spec.scope).to.equal("Namespaced");
    expect(spec.versions[0].name).to.equal("v1alpha2");
    expect(spec.names.shortNames).to.deep.equal(["sp"]);
    const columns = spec.versions[0].additionalPrinterColumns.map((c: any) => c.name.toUpperCase());
    expect(columns).to.deep.equal(["ROUTES", "RETRY-RATIO", "AGE"]);
  });

  it("status conditions have the standard shape", () => {
    const conditions = crdSchema(meshCrd).properties!.status.properties!.conditions.items!;
    expect(conditions.required).to.include.members([
      "type",
      "status",
      "reason",
      "message",
      "lastTransitionTime",
    ]);
    expect(Object.keys(conditions.properties!)).to.include("observedGeneration");
  });
});

describe("samples", () => {
  it("config/samples/mesh.yaml is a valid Mesh", () => {
    expect(mesh.errors(sample("mesh.yaml"))).to.deep.equal([]);
  });

  it("config/samples/serviceprofile.yaml is a valid ServiceProfile with routes, retries and a timeout", () => {
    const sp = sample("serviceprofile.yaml") as any;
    expect(profile.errors(sp)).to.deep.equal([]);
    expect(sp.spec.routes.some((r: any) => r.isRetryable && r.timeout)).to.equal(true);
    expect(sp.spec.retryBudget).to.include.keys("retryRatio", "minRetriesPerSecond", "ttl");
  });
});

describe("invalid specs are rejected with the field named", () => {
  const sp = sample("serviceprofile.yaml");
  const base = sample("mesh.yaml");
  const route = { name: "r", condition: { method: "GET" } };

  it("an unknown field", () => {
    expect(profile.errors(withSpec(sp, { routes: [{ ...route, retries: 3 }] }))).to.deep.equal([
      "spec.routes[0].retries: unknown field; remove it (see kubectl explain)",
    ]);
  });

  it("a bad duration", () => {
    const errors = profile.errors(withSpec(sp, { routes: [{ ...route, timeout: "300 millis" }] }));
    expect(errors).to.have.length(1);
    expect(errors[0]).to.match(/^spec\.routes\[0\]\.timeout: must match /);
  });

  it("a status outside 100-599", () => {
    const classes = [{ condition: { status: { min: 500, max: 600 } }, isFailure: true }];
    expect(
      profile.errors(withSpec(sp, { routes: [{ ...route, responseClasses: classes }] })),
    ).to.deep.equal(["spec.routes[0].responseClasses[0].condition.status.max: must be <= 599"]);
  });

  it("a route without a name or condition", () => {
    expect(profile.errors(withSpec(sp, { routes: [{ timeout: "1s" }] }))).to.have.members([
      "spec.routes[0].name: required",
      "spec.routes[0].condition: required",
    ]);
  });

  it("an empty condition", () => {
    const errors = profile.errors(withSpec(sp, { routes: [{ name: "r", condition: {} }] }));
    expect(errors).to.deep.equal([
      "spec.routes[0].condition: must not be empty; set one of method, pathRegex, all, any, not",
    ]);
  });

  it("a negative retry ratio and a retry budget missing its ttl", () => {
    const errors = profile.errors(
      withSpec(sp, { retryBudget: { retryRatio: -1, minRetriesPerSecond: 1 } }),
    );
    expect(errors).to.have.members([
      "spec.retryBudget.ttl: required",
      "spec.retryBudget.retryRatio: must be >= 0",
    ]);
  });

  it("a nested match too deep for the schema", () => {
    const deep = { not: { not: { not: { method: "GET" } } } };
    const errors = profile.errors(withSpec(sp, { routes: [{ name: "r", condition: deep }] }));
    expect(errors).to.deep.equal([
      "spec.routes[0].condition.not.not.not: unknown field; remove it (see kubectl explain)",
    ]);
  });

  it("a Mesh with an unknown log format and a bad opaque-ports list", () => {
    const errors = mesh.errors(
      withSpec(base, { proxy: { logFormat: "xml", opaquePorts: "25;80" } }),
    );
    expect(errors).to.have.length(2);
    expect(errors).to.include("spec.proxy.logFormat: must be one of plain, json");
    expect(errors.some((e) => e.startsWith("spec.proxy.opaquePorts: must match"))).to.equal(true);
  });

  it("a Mesh with zero replicas", () => {
    expect(
      mesh.errors(withSpec(base, { components: { destination: { replicas: 0 } } })),
    ).to.deep.equal(["spec.components.destination.replicas: must be >= 1"]);
  });
});

describe("fieldPath", () => {
  it("turns JSON pointers into kubectl field paths", () => {
    expect(fieldPath("/spec/routes/0/condition", "method")).to.equal(
      "spec.routes[0].condition.method",
    );
    expect(fieldPath("")).to.equal("(root)");
  });
});
