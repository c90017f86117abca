#!/usr/bin/env bash
# Builds the SO_ORIGINAL_DST addon with the system compiler against node-api-headers (no
# node-gyp, no header download). Node exports the napi_* symbols, so they stay unresolved here
# and bind when the process dlopens the addon.
# Usage: proxy/native/build.sh [output path]   (default dist/native/original_dst.node)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/dist/native/original_dst.node}"
headers="$root/node_modules/node-api-headers/include"
src="$root/proxy/native/original_dst.c"

[ -f "$headers/node_api.h" ] || { echo "native: $headers/node_api.h missing; run make deps" >&2; exit 1; }
command -v gcc >/dev/null || { echo "native: gcc not found; run make deps" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
# NAPI_VERSION 8 is what Node 20 guarantees; the addon uses nothing newer.
gcc -shared -fPIC -O2 -std=c11 -D_GNU_SOURCE -DNAPI_VERSION=8 -Wall -Wextra -Werror \
  -fvisibility=hidden -I "$headers" -o "$tmp" "$src" \
  -Wl,--unresolved-symbols=ignore-all -Wl,-s
mv -f "$tmp" "$out"
echo "native: built $out ($(stat -c %s "$out") bytes)"
