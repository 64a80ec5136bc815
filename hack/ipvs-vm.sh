#!/usr/bin/env bash
# Runs proxy/ipvs's real-kernel test (TestPrivilegedIPVSInVM) inside a small qemu VM that
# boots Debian's cloud kernel, for machines whose own kernel has no IP Virtual Server
# support. Installs what it needs when missing (qemu-system-x86, busybox-static, cpio and
# the kernel package, downloaded and unpacked, not installed), builds the test binary, packs
# it with busybox and the IPVS modules into an initramfs, boots it (timeout, one retry if no
# result appears) and exits with the test's exit code.
# Facts behind each step: ../../shared/notes/ipvs-in-qemu.md. Needs root (apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
CACHE=${SVCLAB_IPVS_VM_CACHE:-/var/cache/svclab-ipvs-vm}
BOOT_TIMEOUT=${SVCLAB_IPVS_VM_TIMEOUT:-90}
MARKER=SVCLAB-IPVS-VM-RESULT
start=$(date +%s.%N)
log() { echo "ipvs-vm: $*" >&2; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# 1. Host tools.
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
[ -x /bin/busybox ] && /bin/busybox --list | grep -qx insmod || missing+=(busybox-static)
command -v cpio >/dev/null || missing+=(cpio)
command -v depmod >/dev/null || missing+=(kmod)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
fi

# 2. The cloud kernel, unpacked once into the cache.
mkdir -p "$CACHE"
kdir="$CACHE/kernel"
if ! ls "$kdir"/boot/vmlinuz-* >/dev/null 2>&1; then
  pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  [ -n "$pkg" ] || { log "cannot find the cloud kernel package (apt-cache depends linux-image-cloud-amd64); run apt-get update"; exit 2; }
  log "downloading $pkg"
  (cd "$CACHE" && ls "$pkg"_*.deb >/dev/null 2>&1 || apt-get download "$pkg" >/dev/null 2>&1) \
    || (cd "$CACHE" && apt-get update >/dev/null && apt-get download "$pkg" >/dev/null 2>&1)
  rm -rf "$kdir.tmp" && dpkg -x "$(ls "$CACHE/$pkg"_*.deb | head -1)" "$kdir.tmp" && mv "$kdir.tmp" "$kdir"
fi
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -1)
kver=${vmlinuz##*/vmlinuz-}
moddir="$kdir/lib/modules/$kver"
# The package ships no modules.dep (depmod writes it at install time): make one.
[ -s "$moddir/modules.dep" ] || depmod -b "$kdir" "$kver"

work=$(mktemp -d /tmp/svclab-ipvs-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT

# 3. The test binary (static, so it runs on busybox).
log "building the proxy/ipvs test binary"
CGO_ENABLED=0 go test -c -o "$work/ipvs.test" ./proxy/ipvs

# 4. The initramfs: busybox, the modules in dependency order, /init.
root="$work/root"
mkdir -p "$root"/{bin,sbin,proc,sys,dev,run,tmp,lib/modules}
cp /bin/busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
# moby/ipvs runs `modprobe ip_vs`; the modules are already in, so succeed quietly.
rm -f "$root/bin/modprobe"
printf '#!/bin/sh\nexit 0\n' > "$root/bin/modprobe"
chmod +x "$root/bin/modprobe"
cp "$work/ipvs.test" "$root/ipvs.test"

order=()
declare -A seen=()
add_module() { # name -> appends it after its dependencies (from modules.dep)
  local name=$1 line path deps dep
  [ -n "${seen[$name]:-}" ] && return
  seen[$name]=1
  line=$(grep -E "(^|/)${name}\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -1 || true)
  if [ -z "$line" ]; then
    # Built into the kernel (e.g. crc32c in the cloud kernel): nothing to load.
    grep -qE "/${name}\.ko" "$moddir/modules.builtin" 2>/dev/null || log "module $name not found (assuming built in)"
    return
  fi
  path=${line%%:*}
  deps=${line#*:}
  for dep in $deps; do
    dep=${dep##*/}; dep=${dep%%.ko*}
    add_module "$dep"
  done
  order+=("$path")
}
for m in ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh nf_conntrack nf_defrag_ipv4 nf_defrag_ipv6 dummy veth; do
  add_module "$m"
done
for path in "${order[@]}"; do
  name=$(basename "$path"); name=${name%%.ko*}.ko
  case "$path" in
    *.ko.xz) xz -dc "$moddir/$path" > "$root/lib/modules/$name" ;;
    *.ko.zst) zstd -qdc "$moddir/$path" > "$root/lib/modules/$name" ;;
    *.ko.gz) gzip -dc "$moddir/$path" > "$root/lib/modules/$name" ;;
    *) cp "$moddir/$path" "$root/lib/modules/$name" ;;
  esac
  echo "$name" >> "$root/modules.order"
done

cat > "$root/init" <<INIT
#!/bin/sh
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/netns
# IPVS refuses destinations (EINVAL) while lo is down.
ip link set lo up
for m in \$(cat /modules.order); do insmod /lib/modules/\$m || echo "insmod \$m failed"; done
cd /tmp
SVCLAB_IN_VM=1 /ipvs.test -test.run '^TestPrivilegedIPVSInVM\$' -test.v -test.count=1 -test.timeout 120s
echo "$MARKER rc=\$?"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 > "$work/initrd.gz")

# 5. Boot, with a timeout and one retry when no result appears (a rare early-boot hang).
# Software emulation by default: nested KVM is often broken (qemu aborts setting MSRs) and
# TCG boots this kernel in a few seconds anyway. SVCLAB_IPVS_VM_KVM=1 tries KVM.
accel=()
[ "${SVCLAB_IPVS_VM_KVM:-0}" = 1 ] && [ -w /dev/kvm ] && accel=(-enable-kvm -cpu host)
for attempt in 1 2; do
  boot_start=$(date +%s.%N)
  timeout "$BOOT_TIMEOUT" qemu-system-x86_64 "${accel[@]}" -m 1024 -smp 1 -kernel "$vmlinuz" -initrd "$work/initrd.gz" \
    -append 'console=ttyS0 quiet panic=-1' -nographic -no-reboot -nodefaults -serial stdio </dev/null \
    > "$work/console.log" 2>&1 || true
  boot_end=$(date +%s.%N)
  tr -d '\r' < "$work/console.log" | grep -vE '^\s*$' | sed 's/^/  vm| /' >&2
  rc=$(tr -d '\r' < "$work/console.log" | sed -n "s/^$MARKER rc=\([0-9]*\).*/\1/p" | tail -1)
  if [ -n "$rc" ]; then
    log "VM run $attempt: test exit code $rc, boot+test $(secs "$boot_start" "$boot_end") s, total $(secs "$start" "$boot_end") s"
    exit "$rc"
  fi
  log "VM run $attempt: no $MARKER within ${BOOT_TIMEOUT}s$( [ "$attempt" = 1 ] && echo ', retrying')"
done
log "the VM never reported a result"
exit 3
