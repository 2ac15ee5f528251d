#!/usr/bin/env bash
# A STAND-IN for the official PostgreSQL image (docker.io/library/postgres), for machines
# that reach no registry (this project's test machines and CI): assembles the root file
# system of a `FROM scratch` PostgreSQL image from the host's Debian `postgresql` package.
# Users run `contrib/compose.yaml` with the official image; the tests run it with this one
# (tests/e2e/deployment.rs, docs/operations.md).
#
#   contrib/container/postgres-rootfs.sh OUT_DIR
#   podman build --format docker -f contrib/container/postgres.Containerfile \
#     -t localhost/postgres-standin OUT_DIR
#
# The root holds the server and client programs the image needs (postgres, initdb, psql,
# pg_isready), their extension libraries and share/ files at the paths Debian installs
# them at (the programs find each other and their files there), the shared libraries all
# of them link (found with ldd), the time zones, a static busybox for the entrypoint
# (contrib/container/postgres-entrypoint.sh, which does what the official image's
# entrypoint does with POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB) and an
# unprivileged user `postgres` (999, as in the official image): the server refuses to run
# as root.
#
# OUT_DIR/root is the file system; OUT_DIR/home (/var/lib/postgresql, holding the empty
# data directory) and OUT_DIR/run (holding the socket directory) are apart, for the Containerfile to give them to the
# user (a COPY keeps no owner of a build context).
set -euo pipefail

top=$1
out=$top/root
uid=999
here=$(cd "$(dirname "$0")" && pwd)

version=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
if [ -z "$version" ]; then
  echo "postgres-rootfs.sh: no PostgreSQL in /usr/lib/postgresql (Debian: postgresql)" >&2
  exit 2
fi
bin=/usr/lib/postgresql/$version/bin
pkglib=$("$bin/pg_config" --pkglibdir)
share=$("$bin/pg_config" --sharedir)
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || [[ "$(ldd "$busybox" 2>&1 || true)" != *"not a dynamic executable"* ]]; then
  echo "postgres-rootfs.sh: no static busybox (Debian: busybox-static)" >&2
  exit 2
fi

rm -rf "$top"
mkdir -p "$out$bin" "$out$pkglib" "$out$share" "$out/bin" "$out/tmp" "$out/usr/local/bin" \
  "$out/etc" "$out/usr/share" "$out/var/lib" "$out/var/run" "$top/home/data" "$top/run/postgresql"

programs=(postgres initdb pg_isready psql)
for program in "${programs[@]}"; do
  install -m 0755 "$bin/$program" "$out$bin/$program"
done
# Extension and encoding conversion libraries (plpgsql, snowball dictionaries, contrib);
# not the LLVM JIT, which the server goes without when its library is missing.
(cd "$pkglib" && find . -maxdepth 1 -name '*.so' ! -name 'llvmjit*' -print0 |
  xargs -0 cp -t "$out$pkglib")
# The catalogue, the samples initdb copies, extensions' SQL, time zone sets, text search.
(cd "$share" && tar --exclude ./man -cf - .) | tar -C "$out$share" -xf -
# Debian's PostgreSQL reads the system's time zones.
cp -a /usr/share/zoneinfo "$out/usr/share/zoneinfo"

# Every shared library the programs and extension libraries need, and the dynamic loader.
for file in "${programs[@]/#/$bin/}" "$pkglib"/*.so; do
  [ -f "$out$file" ] || continue
  ldd "$file" | awk '/=> \// { print $3 } /^[ \t]*\/.*ld-linux/ { print $1 }'
done | sort -u | while read -r lib; do
  mkdir -p "$out$(dirname "$lib")"
  cp -L "$lib" "$out$lib"
done

cp "$busybox" "$out/bin/busybox"
for applet in $("$busybox" --list); do
  [ -e "$out/bin/$applet" ] || ln "$out/bin/busybox" "$out/bin/$applet"
done
install -m 0755 "$here/postgres-entrypoint.sh" "$out/usr/local/bin/docker-entrypoint.sh"
# On PATH (/usr/local/bin); each program still finds the others and its files from its
# real path.
for program in "${programs[@]}"; do
  ln -s "$bin/$program" "$out/usr/local/bin/$program"
done

cat >"$out/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/sbin/nologin
postgres:x:$uid:$uid:PostgreSQL:/var/lib/postgresql:/bin/sh
PASSWD
cat >"$out/etc/group" <<GROUP
root:x:0:
postgres:x:$uid:
GROUP
echo "hosts: files dns" >"$out/etc/nsswitch.conf"

chmod 1777 "$out/tmp"
chmod 0755 "$top/home"
chmod 0700 "$top/home/data"
chmod 0775 "$top/run/postgresql"
