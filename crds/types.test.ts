import { expect } from "chai";
import { meshCrd } from "./mesh.schema";
import { Schema } from "./openapi";
import { serviceProfileCrd } from "./serviceprofile.schema";
import { Mesh, ServiceProfile } from "./types";
import { CrdValidator, crdSchema } from "./validate";

// Every optional field is set, so the compiler proves these objects fit the types and the
// validator proves they fit the schemas; fieldsNotCovered proves the schema has nothing more.
const NOW = "2026-01-01T00:00:00Z";
const condition = {
  type: "Ready",
  status: "True",
  reason: "Ok",
  message: "ok",
  observedGeneration: 1,
  lastTransitionTime: NOW,
} as const;

const fullMesh: Required<Omit<Mesh, "metadata">> & Pick<Mesh, "metadata"> = {
  apiVersion: "weft.io/v1alpha1",
  kind: "Mesh",
  metadata: { name: "weft" },
  spec: {
    version: "0.1.0",
    controllerImage: "docker.io/weft/controller",
    trustDomain: "cluster.local",
    identity: {
      issuanceLifetime: "24h",
      clockSkewAllowance: "20s",
      issuer: { secretName: "issuer", trustAnchorsConfigMap: "anchors" },
    },
    proxy: {
      image: "docker.io/weft/proxy",
      version: "0.1.0",
      logLevel: "warn,weft=info",
      logFormat: "json",
      cpu: { request: "100m", limit: 1 },
      memory: { request: "32Mi", limit: "128Mi" },
      opaquePorts: "25,3306-3307",
      skipInboundPorts: "9090",
      skipOutboundPorts: "443",
      nativeSidecar: true,
      await: true,
    },
    components: {
      destination: { replicas: 2 },
      identity: { replicas: 2 },
      tap: { enabled: true, replicas: 1 },
      api: { enabled: true, replicas: 1 },
      web: { enabled: false, replicas: 1 },
      prometheus: {
        enabled: false,
        replicas: 1,
        image: "docker.io/weft/prometheus:2.42.0",
        externalURL: "http://prom:9090",
      },
      heartbeat: { enabled: true, url: "https://example.invalid/hb" },
    },
    excludedNamespaces: ["legacy"],
  },
  status: {
    observedGeneration: 1,
    conditions: [condition],
    version: "0.1.0",
    meshed: "3/4",
    meshedPods: 3,
    mtls: "100%",
    components: [{ name: "destination", ready: true, readyReplicas: 1, replicas: 1 }],
  },
};

const fullProfile: Required<Omit<ServiceProfile, "metadata">> & Pick<ServiceProfile, "metadata"> = {
  apiVersion: "weft.io/v1alpha2",
  kind: "ServiceProfile",
  metadata: { name: "web.shop.svc.cluster.local", namespace: "shop" },
  spec: {
    routes: [
      {
        name: "r",
        condition: {
          method: "GET",
          pathRegex: "/a",
          all: [
            {
              method: "GET",
              all: [{ method: "GET" }],
              any: [{ pathRegex: "/b" }],
              not: { method: "PUT" },
            },
          ],
          any: [{ pathRegex: "/c" }],
          not: { method: "POST" },
        },
        responseClasses: [
          {
            condition: {
              status: { min: 500, max: 599 },
              all: [
                {
                  status: { min: 500 },
                  all: [{ status: { max: 599 } }],
                  any: [{ status: { min: 502 } }],
                  not: { status: { min: 503 } },
                },
              ],
              any: [{ status: { min: 504 } }],
              not: { status: { min: 200, max: 299 } },
            },
            isFailure: true,
          },
        ],
        isRetryable: true,
        timeout: "300ms",
      },
    ],
    retryBudget: { retryRatio: 0.2, minRetriesPerSecond: 10, ttl: "10s" },
    dstOverrides: [{ authority: "web-v2.shop.svc.cluster.local:80", weight: "500m" }],
    opaquePorts: [3306],
  },
  status: { observedGeneration: 1, conditions: [condition] },
};

/** Every field path of a schema. */
function schemaPaths(schema: Schema, path = ""): string[] {
  if (schema.items) return schemaPaths(schema.items, `${path}[]`);
  return Object.entries(schema.properties ?? {}).flatMap(([key, child]) => [
    `${path}.${key}`,
    ...schemaPaths(child, `${path}.${key}`),
  ]);
}

/** The field paths of a schema that a value sets. */
function setPaths(schema: Schema, value: unknown, path = ""): string[] {
  if (value === undefined) return [];
  if (schema.items) {
    const items = Array.isArray(value) ? value : [];
    return items.flatMap((item) => setPaths(schema.items!, item, `${path}[]`));
  }
  return Object.entries(schema.properties ?? {}).flatMap(([key, child]) => {
    const v = (value as Record<string, unknown>)[key];
    return v === undefined ? [] : [`${path}.${key}`, ...setPaths(child, v, `${path}.${key}`)];
  });
}

// Nested matches (all/any/not) repeat one type; a field covered at any depth is covered.
function collapseNesting(path: string): string {
  return path.replace(/(\.all\[\]|\.any\[\]|\.not)+/g, "");
}

describe("CRD TypeScript types match the schemas", () => {
  const cases = [
    ["Mesh", meshCrd, fullMesh],
    ["ServiceProfile", serviceProfileCrd, fullProfile],
  ] as const;
  for (const [kind, crd, full] of cases) {
    it(`a fully populated ${kind} validates`, () => {
      expect(new CrdValidator(crd).errors(full)).to.deep.equal([]);
    });

    it(`every ${kind} schema field has a typed counterpart`, () => {
      const covered = new Set(setPaths(crdSchema(crd), full).map(collapseNesting));
      const uncovered = schemaPaths(crdSchema(crd))
        .map(collapseNesting)
        .filter((p) => !covered.has(p) && !p.startsWith(".metadata"));
      expect([...new Set(uncovered)]).to.deep.equal([]);
    });
  }
});
