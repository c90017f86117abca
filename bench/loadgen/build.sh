#!/usr/bin/env bash
# Builds crload, the constant-rate load generator (crload.c), with the system C compiler.
# Usage: bench/loadgen/build.sh [output path]   (default dist/bench/bin/crload; CC overrides cc)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/dist/bench/bin/crload}"
cc="${CC:-cc}"

command -v "$cc" >/dev/null || { echo "crload: no C compiler ($cc); apt-get install gcc" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
"$cc" -O2 -std=gnu11 -Wall -Wextra -o "$tmp" "$root/bench/loadgen/crload.c" -lm
mv -f "$tmp" "$out"
echo "crload: built $out"
