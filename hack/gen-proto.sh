#!/usr/bin/env bash
# Generates the TypeScript for api/proto/*.proto with protoc + ts-proto (static encoders and
# grpc-js service definitions, no runtime reflection). Usage: gen-proto.sh [outdir]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/api/gen}"

if ! command -v protoc >/dev/null; then
  echo "gen-proto: protoc is missing; install Debian's protobuf-compiler (make deps does)" >&2
  exit 1
fi
wkt="$(dirname "$(dirname "$(command -v protoc)")")/include"
[ -f "$wkt/google/protobuf/duration.proto" ] || wkt=/usr/include

rm -rf "$out" && mkdir -p "$out"
protoc \
  --plugin="protoc-gen-ts_proto=$root/node_modules/.bin/protoc-gen-ts_proto" \
  --ts_proto_out="$out" \
  --ts_proto_opt=outputServices=grpc-js,esModuleInterop=true,forceLong=bigint,oneof=unions,useDate=false,env=node,useExactTypes=false \
  -I "$root/api/proto" -I "$wkt" \
  "$root"/api/proto/*.proto
