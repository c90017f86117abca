# The pod sandbox image (containerd's sandbox_image): one static C program.
# shellcheck shell=bash
IMAGE_NAME=pause
IMAGE_TAG=3.10
IMAGE_ENTRYPOINT='["/pause"]'
IMAGE_USER=65535:65535
IMAGE_INPUTS=("$IMAGES_SRC/pause/pause.c")

fill_rootfs() {
  gcc -static -Os -s -Wall -Werror -o "$1/pause" "$IMAGES_SRC/pause/pause.c"
}
