# The control-plane image: Node, the production node_modules (Pepr's runtime and our
# dependencies), and /app/weft-controller.js (operator/controller.ts bundled). Pepr's watcher
# and admission Deployments run `node /app/node_modules/pepr/dist/controller.js <hash>` in it;
# the Mesh's components run `node /app/weft-controller.js <component>`.
# shellcheck shell=bash
IMAGE_NAME=controller
IMAGE_TAG="$(node -p 'require(process.argv[1]).version' "$REPO_DIR/package.json")"
IMAGE_ENTRYPOINT='["/usr/bin/node"]'
IMAGE_WORKDIR=/app
IMAGE_USER=65532
IMAGE_ENV='["PATH=/usr/local/bin:/usr/bin:/bin","NODE_ENV=production"]'
mapfile -t IMAGE_INPUTS < <(cd "$REPO_DIR" && find operator crds api/gen -name '*.ts' ! -name '*.test.ts' | sort | sed "s|^|$REPO_DIR/|")
IMAGE_INPUTS+=("$REPO_DIR/package-lock.json" /usr/bin/node)

# Build-time tools and type declarations Pepr lists as dependencies but never loads at run time.
CONTROLLER_PRUNE='^node_modules/(typescript|@esbuild|esbuild|prettier|eslint[^/]*|@eslint[^/]*|tsx|@ts-morph|ts-morph|@typescript-eslint|@types)(/|$)'

controller_components() {
  local d names=()
  for d in "$REPO_DIR"/operator/*/main.ts; do [[ -f $d ]] && names+=("\"$(basename "$(dirname "$d")")\""); done
  local IFS=,
  echo "[${names[*]}]"
}

fill_rootfs() {
  local root=$1 list project
  add_binary "$root" /usr/bin/node
  add_passwd "$root"
  add_ca_certs "$root"
  mkdir -p "$root/app" "$root/tmp"
  chmod 1777 "$root/tmp" "$root/app"
  list="$(mktemp)"
  # The production packages as listed by the checkout that owns node_modules: a git worktree's
  # node_modules may be a link to another checkout's, and npm ls in the worktree would fail on it.
  project="$(dirname "$(cd "$REPO_DIR/node_modules" && pwd -P)")"
  (cd "$project" && npm ls --omit=dev --all --parseable 2>/dev/null | sed 1d | sed "s|^$project/||" |
    awk -F/ '($1=="node_modules" && NF==2) || ($1=="node_modules" && NF==3 && $2 ~ /^@/)' |
    grep -Ev "$CONTROLLER_PRUNE" | sort -u) >"$list"
  tar -C "$REPO_DIR" -cf - -T "$list" | tar -C "$root/app" -xf -
  rm -f "$list"
  find "$root/app/node_modules" \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' \) -delete
  "$REPO_DIR/node_modules/.bin/esbuild" "$REPO_DIR/operator/controller.ts" --bundle --platform=node --format=cjs \
    --target=node20 --packages=external --outfile="$root/app/weft-controller.js" --log-level=warning
  controller_components >"$root/app/components.json"
  # The runtime must load without the pruned packages.
  (cd "$root/app" && NODE_PATH="$root/app/node_modules" node -e 'require("pepr")' >/dev/null) ||
    die "controller image: pepr does not load from the pruned node_modules"
}
