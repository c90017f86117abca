#!/usr/bin/env bash
# make sea: bundles the proxy into one Node single executable application, dist/weft-proxy.
#   esbuild (CJS, node20) → SEA blob (code cache, the SO_ORIGINAL_DST addon as an asset)
#   → a copy of this node binary → postject.
# Environment:
#   WEFT_SEA_ENTRY       entry point (default proxy/main.ts)
#   WEFT_SEA_OUT         output binary (default dist/weft-proxy)
#   WEFT_SEA_CODE_CACHE  true|false: V8 code cache in the blob (default true; proxy/sea/measure-cli.ts times a build either way)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"

entry="${WEFT_SEA_ENTRY:-proxy/main.ts}"
out="${WEFT_SEA_OUT:-dist/weft-proxy}"
code_cache="${WEFT_SEA_CODE_CACHE:-true}"
work="$(dirname "$out")/sea"
addon="dist/native/original_dst.node"
fuse="NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2"

step() { printf 'sea: %s\n' "$*"; }

[ -f "$entry" ] || { echo "sea: entry $entry does not exist" >&2; exit 1; }
node -e 'require("node:sea")' 2>/dev/null || { echo "sea: this node ($(node --version)) has no SEA support" >&2; exit 1; }
mkdir -p "$work"

step "native addon"
bash proxy/native/build.sh "$addon" >/dev/null

step "bundle $entry (esbuild)"
esbuild "$entry" --bundle --platform=node --target=node20 --format=cjs \
  --minify-syntax --minify-whitespace --legal-comments=none --log-level=warning \
  --outfile="$work/weft-proxy.cjs"

step "blob (code cache: $code_cache)"
cat >"$work/sea-config.json" <<JSON
{
  "main": "$work/weft-proxy.cjs",
  "output": "$work/sea-prep.blob",
  "disableExperimentalSEAWarning": true,
  "useCodeCache": $code_cache,
  "assets": { "original_dst.node": "$addon" }
}
JSON
log="$(node --experimental-sea-config "$work/sea-config.json" 2>&1)" || { echo "$log" >&2; exit 1; }

step "inject into a copy of $(command -v node)"
tmp="$out.tmp.$$"
cp "$(command -v node)" "$tmp"
chmod u+w "$tmp"
# postject warns about ELF note sections it does not name; the injection is fine.
postject "$tmp" NODE_SEA_BLOB "$work/sea-prep.blob" --sentinel-fuse "$fuse" 2>&1 >/dev/null |
  { grep -v "Can't find string offset" >&2 || true; }
mv -f "$tmp" "$out"
step "built $out ($(du -h "$out" | cut -f1), bundle $(du -h "$work/weft-proxy.cjs" | cut -f1))"
