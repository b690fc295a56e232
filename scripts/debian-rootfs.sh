#!/usr/bin/env bash
# Builds a Debian 12 (bookworm) root filesystem for tests, once, with
# `debootstrap --variant=minbase`, into a cache folder, and prints its path.
#   scripts/debian-rootfs.sh            -> $TSVISOR_CACHE/debian-bookworm (default .cache/ in the repo)
# Extra packages beyond minbase: EXTRA (comma-separated; default python3,gawk,xz-utils,libpython3.11-testsuite).
# Needs root (debootstrap) and Debian's mirror. Safe to run again: a finished tree is reused;
# an unfinished one (no .complete marker) is rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${TSVISOR_CACHE:-$PWD/.cache}"
EXTRA="${EXTRA:-python3,gawk,xz-utils,libpython3.11-testsuite}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DIR="$CACHE/debian-bookworm"
if [ -f "$DIR/.complete" ] && [ "$(cat "$DIR/.complete")" = "$EXTRA" ]; then
  echo "$DIR"
  exit 0
fi
if ! command -v debootstrap >/dev/null; then
  echo "debian-rootfs: debootstrap is not installed (apt-get install debootstrap)" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "debian-rootfs: debootstrap needs root" >&2
  exit 1
fi
rm -rf "$DIR"
mkdir -p "$CACHE"
echo "debian-rootfs: building $DIR (bookworm minbase + $EXTRA) from $MIRROR" >&2
debootstrap --variant=minbase --include="$EXTRA" bookworm "$DIR" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
  echo "debian-rootfs: debootstrap failed; see $CACHE/debootstrap.log" >&2
  tail -20 "$CACHE/debootstrap.log" >&2
  exit 1
}
# Package caches are not needed by the tests.
rm -rf "$DIR/var/cache/apt/archives/"*.deb
printf '%s' "$EXTRA" >"$DIR/.complete"
echo "$DIR"
