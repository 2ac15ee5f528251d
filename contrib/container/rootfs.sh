#!/usr/bin/env bash
# Assembles the root file system of the Sandcron image from a built binary, for a
# `FROM scratch` image: the binary, the shared libraries it links (found with ldd, so the
# image needs no distribution), a static busybox for the shell executor's /bin/sh, the CA
# certificates, an unprivileged user (10001) and the data directory it owns.
#
#   contrib/container/rootfs.sh BINARY OUT_DIR
#
# OUT_DIR/root is the file system; OUT_DIR/data the empty data directory, apart, so that
# the Containerfile can give it to the user (a COPY keeps no owner of a build context).
#
# Used by the Containerfile's build stage and, where no registry is reachable (CI), on
# the host before `podman build` (see docs/operations.md).
set -euo pipefail

binary=$1
top=$2
out=$top/root
uid=10001

if [ ! -x "$binary" ]; then
  echo "rootfs.sh: $binary is not an executable" >&2
  exit 2
fi
rm -rf "$top"
mkdir -p "$out/usr/local/bin" "$out/etc/ssl/certs" "$out/bin" "$out/tmp" "$top/data"
install -m 0755 "$binary" "$out/usr/local/bin/sandcron"

# Every shared library the binary needs, and the dynamic loader, at their own paths.
ldd "$binary" | awk '/=> \// { print $3 } /^[ \t]*\/.*ld-linux/ { print $1 }' | sort -u |
  while read -r lib; do
    mkdir -p "$out$(dirname "$lib")"
    cp -L "$lib" "$out$lib"
  done

# The shell executor runs `/bin/sh -c COMMAND`: busybox's shell and its usual tools.
busybox=$(command -v busybox || true)
if [ -n "$busybox" ] && [[ "$(ldd "$busybox" 2>&1 || true)" == *"not a dynamic executable"* ]]; then
  cp "$busybox" "$out/bin/busybox"
  # Hard links, not symbolic ones: the process capability runs a program by its
  # canonical path, and busybox picks the applet by the name it is run as.
  for applet in $("$busybox" --list); do
    [ -e "$out/bin/$applet" ] || ln "$out/bin/busybox" "$out/bin/$applet"
  done
else
  echo "rootfs.sh: no static busybox (Debian: busybox-static); the image has no /bin/sh" >&2
fi

if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/"
fi

cat >"$out/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/sbin/nologin
sandcron:x:$uid:$uid:Sandcron:/data:/sbin/nologin
PASSWD
cat >"$out/etc/group" <<GROUP
root:x:0:
sandcron:x:$uid:
GROUP
echo "hosts: files dns" >"$out/etc/nsswitch.conf"

chmod 1777 "$out/tmp"
chmod 0700 "$top/data"
