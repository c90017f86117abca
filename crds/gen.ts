// Writes crds/*.yaml from the schema sources (make gen). A test fails when they are stale.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { meshCrd } from "./mesh.schema";
import { serviceProfileCrd } from "./serviceprofile.schema";

export const CRD_FILES: Record<string, Record<string, unknown>> = {
  "meshes.weft.io.yaml": meshCrd,
  "serviceprofiles.weft.io.yaml": serviceProfileCrd,
};

export function renderCrd(crd: Record<string, unknown>): string {
  return (
    "# Generated from crds/*.schema.ts by `make gen`. Do not edit.\n" +
    stringify(crd, { lineWidth: 0, aliasDuplicateObjects: false })
  );
}

if (require.main === module) {
  for (const [file, crd] of Object.entries(CRD_FILES)) {
    writeFileSync(join(__dirname, file), renderCrd(crd));
  }
}
