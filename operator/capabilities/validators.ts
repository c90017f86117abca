// Validating admission for ServiceProfile and Mesh: the decisions live in operator/validate;
// these handlers gather what they need and answer through Pepr's request type.

import type { PeprValidateRequest } from "pepr";
import type { Mesh, ServiceProfile } from "../../crds/types";
import {
  issuerProblem,
  issuerSecretName,
  onlyOneMesh,
  proxyDefaultsProblems,
  type IssuerLoader,
  type IssuerSecretView,
} from "../validate/mesh";
import { validateServiceProfile } from "../validate/serviceprofile";
import type { MeshKind, ServiceProfileKind } from "./kinds";

type Response = ReturnType<PeprValidateRequest<MeshKind>["Approve"]>;

function answer(
  req: PeprValidateRequest<MeshKind | ServiceProfileKind>,
  problems: string[],
  what: string,
): Response {
  if (problems.length === 0) return req.Approve();
  return req.Deny(`${what} is invalid: ${problems.join("; ")}`, 422);
}

export function validateServiceProfileRequest(
  req: PeprValidateRequest<ServiceProfileKind>,
): Response {
  if (req.Request.operation === "DELETE") return req.Approve();
  const sp = req.Raw as ServiceProfile;
  return answer(req, validateServiceProfile(sp), `ServiceProfile ${sp.metadata?.name}`);
}

export interface MeshValidationDeps {
  meshNames(): Promise<string[]>;
  secret(name: string): Promise<IssuerSecretView | undefined>;
  configMap(name: string): Promise<Record<string, string> | undefined>;
  loadIssuer: IssuerLoader;
}

async function issuerProblems(mesh: Mesh, deps: MeshValidationDeps): Promise<string[]> {
  const name = issuerSecretName(mesh);
  if (!name) return [];
  const cmName = mesh.spec?.identity?.issuer?.trustAnchorsConfigMap;
  const anchors = cmName ? (await deps.configMap(cmName))?.["ca-bundle.crt"] : undefined;
  const problem = await issuerProblem(name, await deps.secret(name), anchors, deps.loadIssuer);
  return problem ? [problem] : [];
}

export async function validateMeshRequest(
  req: PeprValidateRequest<MeshKind>,
  deps: MeshValidationDeps,
): Promise<Response> {
  if (req.Request.operation === "DELETE") return req.Approve();
  const mesh = req.Raw as Mesh;
  const problems = proxyDefaultsProblems(mesh);
  if (req.Request.operation === "CREATE") {
    const single = onlyOneMesh(mesh.metadata?.name, await deps.meshNames());
    if (single) problems.push(single);
  }
  problems.push(...(await issuerProblems(mesh, deps)));
  return answer(req, problems, `Mesh ${mesh.metadata?.name}`);
}
