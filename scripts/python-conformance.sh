#!/usr/bin/env bash
# Runs CPython's own regression tests (Debian's libpython3.11-testsuite, in the Debian root
# built by scripts/debian-rootfs.sh) natively (chrooted, own PID namespace and /proc), under
# tsvisor (`runsc do --root-dir`) and under gVisor's runsc (`runsc do chroot ROOT ...`), and
# prints a Markdown table of tests run / failures / errors / skipped per module.
#   scripts/python-conformance.sh [MODULE...] > table.md
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(bash scripts/debian-rootfs.sh)
MODULES=("$@")
if [ ${#MODULES[@]} -eq 0 ]; then
  MODULES=(test_os test_posix test_signal test_subprocess test_select test_selectors test_fcntl test_mmap
    test_pty test_tempfile test_shutil test_pathlib test_threading test_time test_fileio test_epoll
    test_socket test_io test_resource test_stat test_glob test_zipfile test_tarfile)
fi
summary() {
  # The verbose "... ok" lines (a test that printed ends its line later with a bare "ok"),
  # "Ran N tests" and the final OK/FAILED line -> "passed ran failures errors skipped".
  # unittest counts an error in setUp and another in tearDown of one test, so
  # ran - failures - errors - skipped undercounts; the "ok" lines do not.
  awk '/\.\.\. ok$/ || /^ok$/ {ok++} /^Ran [0-9]+ test/ {ran=$2} /^(OK|FAILED)/ {line=$0}
    END {
      f=0; e=0; s=0
      if (match(line, /failures=[0-9]+/)) f=substr(line, RSTART+9, RLENGTH-9)
      if (match(line, /errors=[0-9]+/)) e=substr(line, RSTART+7, RLENGTH-7)
      if (match(line, /skipped=[0-9]+/)) s=substr(line, RSTART+8, RLENGTH-8)
      if (ran == "") print "- - - - -"; else print ok + 0, ran, f, e, s
    }'
}
cell() {
  read -r ok ran f e s
  if [ "$ran" = "-" ]; then echo "did not finish"
  else echo "$ok passed, $f failed, $e errors, $s skipped"; fi
}
echo "| module | native | tsvisor | gVisor |"
echo "|---|---|---|---|"
for m in "${MODULES[@]}"; do
  n=$(timeout 1200 unshare --pid --fork --mount --mount-proc="$ROOT/proc" sh -c 'mount -t tmpfs tmpfs "$0/tmp" && exec chroot "$0" /usr/bin/python3 -m test -v "$1"' "$ROOT" "$m" </dev/null 2>&1 | summary | cell)
  t=$(timeout 1200 node bin/run.js do --root-dir "$ROOT" --cwd / -- /usr/bin/python3 -m test -v "$m" </dev/null 2>&1 | summary | cell)
  if command -v runsc >/dev/null && [ -x /usr/bin/runsc ]; then
    g=$(timeout 1200 /usr/bin/runsc --network=none --platform=ptrace do chroot "$ROOT" /usr/bin/python3 -m test -v "$m" </dev/null 2>&1 | summary | cell)
  else
    g="not installed"
  fi
  echo "| $m | $n | $t | $g |"
done
