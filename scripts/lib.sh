# Shared by the scripts: package installs and the busybox bundle.

# apt_need CMD PACKAGE...: install PACKAGE(s) when CMD is missing.
apt_need() {
  local cmd=$1; shift
  command -v "$cmd" >/dev/null 2>&1 && return 0
  echo "installing $* (for $cmd)" >&2
  apt_install "$@"
}

# apt_install PACKAGE...: install now, refreshing the package lists once if that fails.
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >/dev/null \
    || { apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >/dev/null; }
}

# cargo_target_dir: where cargo puts builds, honouring CARGO_TARGET_DIR and .cargo/config's
# build.target-dir (so never a hard-coded ./target). Needs jq.
cargo_target_dir() {
  apt_need jq jq
  cargo metadata --format-version 1 --no-deps | jq -er .target_directory
}

# busybox_rootfs DIR [BUSYBOX]: a rootfs of static busybox (the host's, or BUSYBOX: another
# arch's build of the same Debian package, whose applets the host's lists) with every applet
# linked into /bin.
busybox_rootfs() {
  local dir=$1 bb
  apt_need busybox busybox-static
  bb=$(command -v busybox)
  file -L "$bb" 2>/dev/null | grep -q 'dynamically' && { echo "busybox at $bb is not static: install busybox-static" >&2; return 1; }
  mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/proc" "$dir/sys" "$dir/dev"
  cp "${2:-$bb}" "$dir/bin/busybox"
  local a
  for a in $("$bb" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$dir/etc/passwd"
  echo 'root:x:0:' > "$dir/etc/group"
}
