# The demo application's image: Node and config/demo/app.ts bundled (with @grpc/grpc-js).
# shellcheck shell=bash
IMAGE_NAME=demo
IMAGE_TAG="$(node -p 'require(process.argv[1]).version' "$REPO_DIR/package.json")"
IMAGE_ENTRYPOINT='["/usr/bin/node"]'
IMAGE_WORKDIR=/app
IMAGE_USER=65532
IMAGE_INPUTS=("$REPO_DIR/config/demo/app.ts" "$REPO_DIR/package-lock.json" /usr/bin/node)

fill_rootfs() {
  local root=$1
  add_binary "$root" /usr/bin/node
  add_passwd "$root"
  mkdir -p "$root/app" "$root/tmp"
  chmod 1777 "$root/tmp"
  "$REPO_DIR/node_modules/.bin/esbuild" "$REPO_DIR/config/demo/app.ts" --bundle --platform=node --format=cjs \
    --target=node20 --outfile="$root/app/demo.js" --log-level=warning
}
