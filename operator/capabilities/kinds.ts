// The Weft CRDs as fluent-client models.

import { a, RegisterKind } from "pepr";
import type {
  MeshSpec,
  MeshStatus,
  ServiceProfileSpec,
  ServiceProfileStatus,
} from "../../crds/types";

export class MeshKind extends a.GenericKind {
  declare spec?: MeshSpec;
  declare status?: MeshStatus;
}

export class ServiceProfileKind extends a.GenericKind {
  declare spec?: ServiceProfileSpec;
  declare status?: ServiceProfileStatus;
}

export const MESH_GVK = { group: "weft.io", version: "v1alpha1", kind: "Mesh", plural: "meshes" };
export const SERVICE_PROFILE_GVK = {
  group: "weft.io",
  version: "v1alpha2",
  kind: "ServiceProfile",
  plural: "serviceprofiles",
};

RegisterKind(MeshKind, MESH_GVK);
RegisterKind(ServiceProfileKind, SERVICE_PROFILE_GVK);
