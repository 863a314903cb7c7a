#!/bin/bash
# guest/build.sh — build xeno's default guest image from Debian packages only.
#
#   guest/build.sh [--out DIR] [--force] [--compress none|gzip]
#
# Produces in DIR (default ${XENO_CACHE:-/var/cache/xeno}/guest):
#   vmlinuz     bzImage of Debian's cloud kernel (from linux-image-cloud-amd64)
#   vmlinux     the uncompressed ELF cut out of it, for PVH boot
#   initrd.img  cpio newc initramfs: busybox-static, the virtio/ACPI modules,
#               dropbear with its libraries, iperf3 with its libraries (kept
#               as a gzip'd tar, unpacked on first use), and guest/init as /init
#   root.ext4   the initramfs's tree as an ext4 file system (sparse, 256 MiB),
#               for root=/dev/xvda: the initramfs's /init mounts it and
#               switch_root's into it (see guest/README.md, "Root on a disk")
#   stamp       the build's inputs and outputs; written last, so its presence
#               means the four files above are complete and belong together
#
# The build is cached: when neither the Debian packages (their versions in the
# apt lists) nor the files under guest/ changed, a second run does nothing.
# Downloads are kept in ${XENO_CACHE}/debs.  Every output is written to a
# temporary file and renamed into place; the stamp is removed first and
# written last, so a killed build never looks complete.
#
# Environment:
#   XENO_CACHE             cache root (default /var/cache/xeno)
#   XENO_GUEST_KERNEL      kernel metapackage (default linux-image-cloud-amd64)
#   XENO_INITRD_COMPRESS   none (default) or gzip; --compress overrides
#   XENO_GUEST_ROOT_MIB    size of root.ext4 in MiB (default 256)
set -euo pipefail

FORMAT=3    # bump when the build's logic changes the image
PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)

die() { echo "$PROG: error: $*" >&2; exit 1; }
say() { echo "$PROG: $*"; }

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

CACHE=${XENO_CACHE:-/var/cache/xeno}
OUT=
FORCE=0
COMPRESS=${XENO_INITRD_COMPRESS:-none}
KMETA=${XENO_GUEST_KERNEL:-linux-image-cloud-amd64}
ROOT_MIB=${XENO_GUEST_ROOT_MIB:-256}
while [ $# -gt 0 ]; do
	case "$1" in
	--out) [ $# -ge 2 ] || die "--out needs a directory"; OUT=$2; shift 2 ;;
	--out=*) OUT=${1#--out=}; shift ;;
	--force) FORCE=1; shift ;;
	--compress) [ $# -ge 2 ] || die "--compress needs none|gzip"; COMPRESS=$2; shift 2 ;;
	--compress=*) COMPRESS=${1#--compress=}; shift ;;
	-h|--help) usage; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done
case "$COMPRESS" in none|gzip) ;; *) die "--compress: none or gzip, not '$COMPRESS'" ;; esac
case "$ROOT_MIB" in ''|*[!0-9]*) die "XENO_GUEST_ROOT_MIB: a number of MiB, not '$ROOT_MIB'" ;; esac
[ "$ROOT_MIB" -ge 64 ] || die "XENO_GUEST_ROOT_MIB: at least 64"
OUT=${OUT:-$CACHE/guest}
DEBS=$CACHE/debs

# Modules the cloud kernel has as modules and the guest needs (dependencies
# are added from modules.dep; names that are built in are skipped).
MODULES="virtio virtio_ring virtio_pci virtio_pci_modern_dev virtio_pci_legacy_dev
	virtio_mmio virtio_blk virtio_net virtio_console virtio_balloon virtio_rng
	rng_core button evdev pvpanic pvpanic_mmio"
# Packages whose files go into the initramfs besides the kernel.
PKG_BUSYBOX=busybox-static
PKG_SSH=dropbear-bin
SSH_FILES="usr/sbin/dropbear usr/bin/dropbearkey usr/bin/dbclient usr/bin/dropbearconvert"
# iperf3 (for bench/netdomains) and the libraries it needs.  libiperf0 pulls in
# OpenSSL's 4.7 MB libcrypto, so these go into the image as one gzip'd tar that
# /usr/bin/iperf3 (a wrapper) unpacks into /run on first use: a guest that never
# runs iperf3 pays ~2.5 MB of initramfs, not ~6 MB of RAM twice over at boot.
PKG_IPERF=iperf3
PKG_IPERF_LIB=libiperf0
IPERF_FILES="usr/bin/iperf3"
# coreutils' env, for `env --default-signal`: /init's console shell is an
# asynchronous job of PID 1, started with SIGINT ignored, which ash cannot
# undo by itself (see guest/init).  Installed as /usr/lib/coreutils/env.
PKG_ENV=coreutils

for t in apt-get apt-cache dpkg-deb depmod lz4 readelf cpio gzip sha256sum flock od \
	mke2fs debugfs; do
	command -v "$t" >/dev/null ||
		die "missing tool '$t' (apt-get install kmod lz4 binutils cpio e2fsprogs)"
done
# root.ext4 depends on mke2fs's version as much as on the packages inside.
E2FS_VERSION=$(dpkg-query -W -f='${Version}' e2fsprogs 2>/dev/null || mke2fs -V 2>&1 | head -n1)

mkdir -p "$OUT" "$DEBS"
OUT=$(cd "$OUT" && pwd)
exec 9>"$OUT/.lock"
flock 9

STAMP=$OUT/stamp
# Leftovers of a build that was killed hard (we hold the lock: none is ours).
rm -rf "$OUT"/.build.* "$STAMP".tmp.*
for d in "$DEBS"/.dl.*; do
	[ -d "$d" ] && ! kill -0 "${d##*.}" 2>/dev/null && rm -rf "$d"
done
OUTPUTS="vmlinuz vmlinux initrd.img root.ext4"

# The stamp's KEY=VALUE lines, read once.
declare -A STAMPV=()
load_stamp() {
	local k v
	STAMPV=()
	[ -f "$STAMP" ] || return 0
	while IFS='=' read -r k v; do
		case "$k" in ''|'#'*) ;; *) STAMPV[$k]=$v ;; esac
	done < "$STAMP"
}
load_stamp

# True if every output exists with the size the stamp recorded.
outputs_ok() {
	local f want=
	[ -f "$STAMP" ] || return 1
	for f in $OUTPUTS; do
		[ -f "$OUT/$f" ] || return 1
		want+="${STAMPV[size_${f//./_}]:-none} "
	done
	[ "$want" = "$(cd "$OUT" && stat -c %s $OUTPUTS | tr '\n' ' ')" ]
}

report() {
	local f
	for f in $OUTPUTS; do
		printf '  %-11s %10s bytes  %s\n' "$f" "$(stat -c %s "$OUT/$f")" "$OUT/$f"
	done
	load_stamp
	echo "  kernel      ${STAMPV[kernel_release]} (${STAMPV[kernel_package]} ${STAMPV[kernel_version]})"
}

# --- inputs ------------------------------------------------------------------
# Hash of the files of guest/ that make the image (not docs or test tools).
GUEST_HASH=$(cd "$HERE" && find build.sh init iperf3 rootfs -type f -print0 | LC_ALL=C sort -z |
	xargs -0 sha256sum | sha256sum | cut -d' ' -f1)

apt_lists_sig() {
	local f
	for f in /var/lib/apt/lists/*_Packages*; do
		[ -e "$f" ] && stat -c '%n %s %Y' "$f"
	done
	return 0
}
LISTS_SIG=$(apt_lists_sig)
if [ -z "$LISTS_SIG" ]; then
	say "no apt package lists: running apt-get update"
	apt-get update -qq || die "apt-get update failed"
	LISTS_SIG=$(apt_lists_sig)
	[ -n "$LISTS_SIG" ] || die "still no apt package lists after apt-get update"
fi
QUICK_KEY=$(printf '%s\n' "format=$FORMAT" "kmeta=$KMETA" "compress=$COMPRESS" \
	"root_mib=$ROOT_MIB" "e2fsprogs=$E2FS_VERSION" "guest=$GUEST_HASH" "$LISTS_SIG" |
	sha256sum | cut -d' ' -f1)

if [ $FORCE = 0 ] && [ "${STAMPV[quick_key]:-}" = "$QUICK_KEY" ] && outputs_ok; then
	say "up to date (nothing changed), nothing to do:"
	report
	exit 0
fi

# Resolve what the apt lists offer now.
KPKG=$(apt-cache depends "$KMETA" 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-image-[^ <>]*\)$/\1/p')
KPKG=${KPKG%%$'\n'*}
[ -n "$KPKG" ] || die "cannot resolve the kernel package from $KMETA (apt-cache depends)"
# dropbear and the libraries it needs, recursively.
SSH_CLOSURE=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
	--no-breaks --no-replaces --no-enhances "$PKG_SSH" | grep -v '^ ' | grep -v '^<' | LC_ALL=C sort -u)
[ -n "$SSH_CLOSURE" ] || die "cannot resolve $PKG_SSH"
# iperf3 itself (its own Depends pull in adduser, perl, ...: only for its
# maintainer scripts) and libiperf0's closure.
IPERF_CLOSURE=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
	--no-breaks --no-replaces --no-enhances "$PKG_IPERF_LIB" | grep -v '^ ' | grep -v '^<' |
	LC_ALL=C sort -u)
[ -n "$IPERF_CLOSURE" ] || die "cannot resolve $PKG_IPERF_LIB"
IPERF_CLOSURE=$(printf '%s\n' $PKG_IPERF $IPERF_CLOSURE | LC_ALL=C sort -u)
PKGS=$(printf '%s\n' "$KPKG" $PKG_BUSYBOX $PKG_ENV $SSH_CLOSURE $IPERF_CLOSURE | awk '!seen[$0]++')
PKGS=$(echo $PKGS)

# "package version sha256 filename" of each candidate.
PKG_INFO=$(apt-cache show --no-all-versions $PKGS | awk '
	/^Package: / { p = $2 } /^Version: / { v = $2 } /^SHA256: / { h = $2 }
	/^Filename: / { f = $2 }
	/^$/ { if (p != "") print p, v, h, f; p = v = h = f = "" }
	END { if (p != "") print p, v, h, f }')
for p in $PKGS; do
	echo "$PKG_INFO" | awk -v p="$p" '$1 == p { f = 1 } END { exit !f }' ||
		die "package $p has no candidate in the apt lists"
done
FULL_KEY=$(printf '%s\n' "format=$FORMAT" "kmeta=$KMETA" "compress=$COMPRESS" \
	"root_mib=$ROOT_MIB" "e2fsprogs=$E2FS_VERSION" "guest=$GUEST_HASH" "$PKG_INFO" |
	sha256sum | cut -d' ' -f1)

write_stamp() {  # write_stamp FILE: from the current variables + outputs in $2
	local tmp=$1 dir=$2 f
	{
		echo "# xeno guest image build stamp (guest/build.sh); written last"
		echo "format=$FORMAT"
		echo "quick_key=$QUICK_KEY"
		echo "full_key=$FULL_KEY"
		echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "kernel_meta=$KMETA"
		echo "kernel_package=$KPKG"
		echo "kernel_version=$(echo "$PKG_INFO" | awk -v p="$KPKG" '$1 == p { print $2 }')"
		echo "kernel_release=$KREL"
		echo "initrd_compress=$COMPRESS"
		echo "root_mib=$ROOT_MIB"
		echo "e2fsprogs=$E2FS_VERSION"
		echo "guest_hash=$GUEST_HASH"
		echo "$PKG_INFO" | awk '{ print "package_" $1 "=" $2 " sha256:" $3 }'
		for f in $OUTPUTS; do
			echo "size_${f//./_}=$(stat -c %s "$dir/$f")"
			echo "sha256_${f//./_}=$(sha256sum "$dir/$f" | cut -d' ' -f1)"
		done
	} > "$tmp"
}

if [ $FORCE = 0 ] && [ "${STAMPV[full_key]:-}" = "$FULL_KEY" ] && outputs_ok; then
	# The apt lists were refreshed but offer the same packages: just
	# record that, atomically.
	KREL=${STAMPV[kernel_release]:-}
	write_stamp "$STAMP.tmp.$$" "$OUT"
	mv -f "$STAMP.tmp.$$" "$STAMP"
	say "up to date (same packages after an apt lists change), nothing to do:"
	report
	exit 0
fi

# --- build -------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "building needs root (device nodes and root-owned files in the initramfs)"
T0=$(date +%s.%N)
WORK=$(mktemp -d "$OUT/.build.XXXXXX")
cleanup() { rm -rf "$WORK" "$DEBS/.dl.$$"; rm -f "$STAMP.tmp.$$"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Fetch into DEBS, verified against the apt lists' SHA256.
deb_path() {  # deb_path PKG -> path of its verified .deb in the cache
	local p=$1 v h f file
	read -r _ v h f <<<"$(echo "$PKG_INFO" | awk -v p="$p" '$1 == p')"
	file=$DEBS/${f##*/}
	if [ -f "$file" ] && [ "$(sha256sum < "$file" | cut -d' ' -f1)" = "$h" ]; then
		echo "$file"; return
	fi
	rm -rf "$DEBS/.dl.$$"; mkdir -p "$DEBS/.dl.$$"
	echo "$PROG: downloading $p $v" >&2
	(cd "$DEBS/.dl.$$" && apt-get download -qq -o APT::Sandbox::User=root "$p=$v" >&2) ||
		die "apt-get download $p=$v failed (stale apt lists? run apt-get update)"
	local got
	got=$(echo "$DEBS/.dl.$$"/*.deb)
	[ -f "$got" ] || die "apt-get download $p=$v produced no .deb"
	[ "$(sha256sum < "$got" | cut -d' ' -f1)" = "$h" ] || die "$p=$v: SHA256 mismatch"
	mv -f "$got" "$file"
	rm -rf "$DEBS/.dl.$$"
	echo "$file"
}

say "building the guest image in $OUT (packages: $PKGS)"
for p in $PKGS; do deb_path "$p" >/dev/null; done

# Kernel.
K=$WORK/kernel
mkdir -p "$K"
dpkg-deb -x "$(deb_path "$KPKG")" "$K"
KREL=$(ls "$K/lib/modules")
case "$KREL" in *[[:space:]]*) die "$KPKG: more than one kernel release inside" ;; esac
[ -n "$KREL" ] && [ -f "$K/boot/vmlinuz-$KREL" ] || die "$KPKG: no vmlinuz/modules inside"
cp "$K/boot/vmlinuz-$KREL" "$WORK/vmlinuz"

# vmlinux: the bzImage payload (boot protocol >= 2.08 gives its offset and
# length) is LZ4 (legacy frames) followed by the 4-byte uncompressed size;
# it decompresses to the ELF vmlinux followed by relocation data, which the
# ELF does not need.
u() { od -An -t u"$2" -j "$3" -N "$2" "$1" | tr -d ' \n'; }
BZ=$WORK/vmlinuz
[ "$(dd if="$BZ" bs=1 skip=514 count=4 status=none)" = HdrS ] || die "vmlinuz: not a bzImage"
[ "$(u "$BZ" 2 518)" -ge 520 ] || die "vmlinuz: boot protocol too old for payload fields"
SETUP_SECTS=$(u "$BZ" 1 497); [ "$SETUP_SECTS" -ne 0 ] || SETUP_SECTS=4
PAY_OFF=$(( (SETUP_SECTS + 1) * 512 + $(u "$BZ" 4 584) ))
PAY_LEN=$(u "$BZ" 4 588)
dd if="$BZ" of="$WORK/payload" bs=64K iflag=skip_bytes,count_bytes \
	skip="$PAY_OFF" count="$PAY_LEN" status=none
[ "$(od -An -tx1 -N4 "$WORK/payload" | tr -d ' \n')" = 02214c18 ] ||
	die "vmlinuz: payload is not LZ4 (legacy); this build only knows the cloud kernel's LZ4"
RAW_LEN=$(u "$WORK/payload" 4 $((PAY_LEN - 4)))
truncate -s $((PAY_LEN - 4)) "$WORK/payload"
lz4 -dcq "$WORK/payload" > "$WORK/vmlinux.raw" ||
	die "vmlinuz: LZ4 decompression failed"
[ "$(stat -c %s "$WORK/vmlinux.raw")" = "$RAW_LEN" ] || die "vmlinuz: decompressed size mismatch"
[ "$(od -An -tx1 -N5 "$WORK/vmlinux.raw" | tr -d ' \n')" = 7f454c4602 ] ||
	die "vmlinuz: payload is not a 64-bit ELF"
# End of the ELF: the furthest of the section header table and any segment.
R=$WORK/vmlinux.raw
ELF_END=$(( $(u "$R" 8 40) + $(u "$R" 2 60) * $(u "$R" 2 58) ))
PHOFF=$(u "$R" 8 32); PHENT=$(u "$R" 2 54); PHNUM=$(u "$R" 2 56)
for ((i = 0; i < PHNUM; i++)); do
	b=$((PHOFF + i * PHENT))
	e=$(( $(u "$R" 8 $((b + 8))) + $(u "$R" 8 $((b + 32))) ))
	[ $e -le $ELF_END ] || ELF_END=$e
done
truncate -s "$ELF_END" "$R"
mv "$R" "$WORK/vmlinux"
rm -f "$WORK/payload"
readelf -n "$WORK/vmlinux" | grep -Eq 'Xen[[:space:]].*\(0x00000012\)' ||
	die "vmlinux has no Xen PHYS32_ENTRY (0x12) note: cannot PVH boot"

# Root filesystem.
ROOT=$WORK/root
mkdir -p "$ROOT"
(cd "$ROOT" && mkdir -p bin sbin usr/bin usr/sbin lib lib64 etc root proc sys dev run tmp \
	mnt var/log var/tmp "lib/modules/$KREL")
ln -s ../run "$ROOT/var/run"
chmod 700 "$ROOT/root"; chmod 1777 "$ROOT/tmp" "$ROOT/var/tmp"

# busybox-static with a link for every applet.
BB=$WORK/busybox
mkdir -p "$BB"
dpkg-deb -x "$(deb_path "$PKG_BUSYBOX")" "$BB"
install -m 755 "$BB/bin/busybox" "$ROOT/bin/busybox"
# (perl-base is Essential: one process instead of ~270 ln)
"$ROOT/bin/busybox" --list-full | ROOT=$ROOT perl -ne 'chomp; my $l = "$ENV{ROOT}/$_";
	-e $l or -l $l or symlink("/bin/busybox", $l) or die "symlink $l: $!\n"'

[ -L "$ROOT/bin/sh" ] || die "busybox has no sh applet"

# dropbear, iperf3 and the shared libraries they need (ELF NEEDED closure,
# resolved in the extracted library packages, symlinks kept).  copy_path and
# add_elf copy into $DEST: the root, or iperf3's staging directory.
D=$WORK/ssh
mkdir -p "$D"
for p in $SSH_CLOSURE $IPERF_CLOSURE $PKG_ENV; do dpkg-deb -x "$(deb_path "$p")" "$D"; done
DEST=$ROOT
LIBDIRS="lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu lib usr/lib"
copy_path() {  # copy_path REL: copy D/REL into ROOT, following symlinks
	local rel=$1 tgt
	while :; do
		[ -e "$DEST/$rel" ] || [ -L "$DEST/$rel" ] && return 0
		mkdir -p "$DEST/$(dirname "$rel")"
		if [ -L "$D/$rel" ]; then
			cp -P "$D/$rel" "$DEST/$rel"
			tgt=$(readlink "$D/$rel")
			case "$tgt" in /*) rel=${tgt#/} ;; *) rel=$(dirname "$rel")/$tgt ;; esac
		else
			[ -f "$D/$rel" ] || die "$rel missing in the extracted packages"
			cp -p "$D/$rel" "$DEST/$rel"
			return 0
		fi
	done
}
declare -A DONE_LIB=()
add_elf() {  # add_elf REL [DEST]: copy an ELF and, recursively, what it needs
	local rel=$1 lib dir found interp
	if [ -n "${2:-}" ]; then
		mkdir -p "$DEST/$(dirname "$2")"
		cp -pL "$D/$rel" "$DEST/$2"
	else
		copy_path "$rel"
	fi
	interp=$(readelf -lW "$D/$rel" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
	if [ -n "$interp" ] && [ -z "${DONE_LIB[$interp]:-}" ]; then
		DONE_LIB[$interp]=1
		copy_path "${interp#/}"
	fi
	for lib in $(readelf -dW "$D/$rel" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		[ -z "${DONE_LIB[$lib]:-}" ] || continue
		DONE_LIB[$lib]=1
		found=
		for dir in $LIBDIRS; do
			if [ -e "$D/$dir/$lib" ]; then found=$dir/$lib; break; fi
		done
		[ -n "$found" ] || die "$rel: library $lib not found in: $SSH_CLOSURE $IPERF_CLOSURE"
		add_elf "$found"
	done
}
for f in $SSH_FILES; do add_elf "$f"; done
add_elf usr/bin/env usr/lib/coreutils/env
mkdir -p "$ROOT/etc/dropbear"
# iperf3: the libraries the root already has (libc, the loader) are not
# copied again (DONE_LIB); the rest goes into the tar with the binary.
DEST=$WORK/iperf3
for f in $IPERF_FILES; do add_elf "$f"; done
DEST=$ROOT

# Kernel modules: the wanted ones and their dependencies, in load order.
depmod -b "$K" "$KREL"
MD=$K/lib/modules/$KREL
declare -A MODPATH=() MODDEPS=() LOADED=()
while IFS= read -r line; do
	path=${line%%:*}; name=${path##*/}; name=${name%%.ko*}; name=${name//-/_}
	MODPATH[$name]=$path
	MODDEPS[$name]=${line#*:}
done < "$MD/modules.dep"
declare -A BUILTIN=()
while IFS= read -r path; do
	name=${path##*/}; name=${name%%.ko*}; BUILTIN[${name//-/_}]=1
done < "$MD/modules.builtin"
ORDER=()
visit() {  # depth first: dependencies before the module
	local n=$1 d dn
	[ -z "${LOADED[$n]:-}" ] || return 0
	LOADED[$n]=1
	for d in ${MODDEPS[$n]}; do
		dn=${d##*/}; dn=${dn%%.ko*}; visit "${dn//-/_}"
	done
	ORDER+=("${MODPATH[$n]}")
}
for m in $MODULES; do
	m=${m//-/_}
	if [ -n "${MODPATH[$m]:-}" ]; then visit "$m"
	elif [ -n "${BUILTIN[$m]:-}" ]; then :
	else die "module $m is neither a module nor built into $KREL"
	fi
done
GM=$ROOT/lib/modules/$KREL
: > "$GM/xeno.modules"
: > "$GM/modules.dep"
for path in "${ORDER[@]}"; do
	mkdir -p "$GM/$(dirname "$path")"
	cp -p "$MD/$path" "$GM/$path"
	echo "$path" >> "$GM/xeno.modules"
	awk -v p="$path:" 'index($0, p) == 1' "$MD/modules.dep" >> "$GM/modules.dep"
done
cp -p "$MD/modules.builtin" "$GM/"  # for busybox modprobe

# Files of guest/: the rootfs overlay and /init.
if [ -d "$HERE/rootfs" ]; then
	cp -a "$HERE/rootfs/." "$ROOT/"
fi
install -m 755 "$HERE/init" "$ROOT/init"
mkdir -p "$ROOT/usr/lib/xeno"
install -m 755 "$HERE/iperf3" "$ROOT/usr/bin/iperf3"
chmod 640 "$ROOT/etc/shadow" 2>/dev/null || true
chmod 755 "$ROOT/etc/acpi/PWRF/00000080" "$ROOT/etc/udhcpc/default.script" 2>/dev/null || true
mknod -m 600 "$ROOT/dev/console" c 5 1
mknod -m 666 "$ROOT/dev/null" c 1 3
chown -R 0:0 "$ROOT"

# Reproducible archive: sorted names, fixed times, root owner.
EPOCH=$(stat -c %Y "$K/boot/vmlinuz-$KREL")
(cd "$WORK/iperf3" && find . -mindepth 1 | LC_ALL=C sort |
	tar -c --no-recursion --owner=0 --group=0 --numeric-owner --mtime="@$EPOCH" -T - -f -) |
	gzip -9n > "$ROOT/usr/lib/xeno/iperf3.tar.gz"
find "$ROOT" -exec touch -h -d "@$EPOCH" {} +
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --reproducible --quiet) > "$WORK/initrd.cpio"
case "$COMPRESS" in
none) mv "$WORK/initrd.cpio" "$WORK/initrd.img" ;;
gzip) gzip -9n < "$WORK/initrd.cpio" > "$WORK/initrd.img"; rm -f "$WORK/initrd.cpio" ;;
esac

# root.ext4: the same tree, so the disk's /init is this build's and the
# initramfs hands over to it.  mke2fs -d copies a directory into the new file
# system: no mount, no loop device.  Reproducible: UUID and directory hash
# seed derived from the build's key, mke2fs's clock fixed at the kernel's
# time; mke2fs 1.47.0 copies each file's ctime and atime, which no one can
# fix on the source tree, so debugfs sets them to $EPOCH afterwards (mtimes
# already are).  Inode tables and journal are zeroed now (lazy init off): a
# guest's first mount must not write them into its overlay in the background.
ROOT_UUID=$(echo "$FULL_KEY" | sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-a\4-\5/')
truncate -s "${ROOT_MIB}M" "$WORK/root.ext4"
E2FSPROGS_FAKE_TIME=$EPOCH mke2fs -q -F -t ext4 -T default -L xeno-root -U "$ROOT_UUID" -m 0 \
	-E "hash_seed=$ROOT_UUID,root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0" \
	-d "$ROOT" "$WORK/root.ext4" ||
	die "mke2fs of root.ext4 failed"
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort) | sed 's/^\.//' |
	{ echo /; echo /lost+found; cat; } |
	awk -v t="@$EPOCH" '{ printf "sif \"%s\" ctime %s\nsif \"%s\" atime %s\n", $0, t, $0, t }' \
	> "$WORK/times.debugfs"
E2FSPROGS_FAKE_TIME=$EPOCH debugfs -w -f "$WORK/times.debugfs" "$WORK/root.ext4" \
	> "$WORK/debugfs.log" 2>&1 || die "debugfs on root.ext4 failed: $(tail -n 3 "$WORK/debugfs.log")"
! grep -q -v '^debugfs' "$WORK/debugfs.log" ||
	die "debugfs on root.ext4: $(grep -v '^debugfs' "$WORK/debugfs.log" | head -n 3)"

# Install: stamp out, files in (each by rename), stamp in.
write_stamp "$WORK/stamp" "$WORK"
rm -f "$STAMP"
for f in $OUTPUTS; do mv -f "$WORK/$f" "$OUT/$f"; done
mv -f "$WORK/stamp" "$STAMP"
T1=$(date +%s.%N)
say "built in $(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }') s (kernel $KREL, ${#ORDER[@]} modules, initrd $COMPRESS):"
report
