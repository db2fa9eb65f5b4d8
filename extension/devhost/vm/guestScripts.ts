/**
 * The scripts inside a VM zone's initramfs. They are constants: everything that differs per zone
 * (address, gateway, hostname, where Node is) arrives on the kernel command line as
 * `styrolite.KEY=VALUE` words the dev host has validated, and is read from /proc/cmdline.
 *
 * The guest's userland is busybox (in /bb) plus the host's own /usr, shared read-only over 9p:
 * Node, runc and their libraries come from there, so the guest runs exactly the host's builds.
 */

/** The name of the virtio-serial port that carries the agent link. */
export const agentPortName = "styrolite.agent";

/** What the stage-1 init prints when the kernel command line asks for a probe boot. */
export const probeMarker = "styrolite-probe-ok";

/** What the boot script prints once the system is set up and the agent is starting. */
export const bootedMarker = "styrolite: system up";

/** What the agent prints once it serves on its port: the dev host may connect from then on. */
export const agentServingMarker = "styrolite agent serving on";

/**
 * Stage 1, run by the kernel from the initramfs: loads the modules, then moves the root to a
 * tmpfs and hands over to busybox init. The move matters: the initramfs root (rootfs) cannot be
 * pivoted away from, and runc's pivot_root refuses to start containers from it.
 */
export const stage1Init = `#!/bb/busybox sh
B=/bb/busybox
$B mount -t proc proc /proc
case " $($B cat /proc/cmdline) " in
  *" styrolite.probe=1 "*) echo "${probeMarker}"; $B poweroff -f ;;
esac
while read -r m; do
  $B insmod "/styrolite/modules/$m" || echo "styrolite: insmod $m failed"
done < /styrolite/modules.order
$B umount /proc
$B mount -t tmpfs -o mode=0755 root /newroot
for d in bb etc styrolite; do $B cp -a "/$d" /newroot/; done
$B rm -rf /newroot/styrolite/modules
for d in usr proc sys dev run tmp root; do $B mkdir -p "/newroot/$d"; done
for l in bin sbin lib lib64; do $B ln -s "usr/$l" "/newroot/$l"; done
exec $B switch_root /newroot /bb/init
`;

/** busybox init's table: the boot script, the agent and a console shell, both respawned. */
export const inittab = `::sysinit:/styrolite/boot.sh
::respawn:/styrolite/agent.sh
ttyS0::respawn:/styrolite/console.sh
::shutdown:/bb/sync
`;

/** System setup: file systems, cgroups, the 9p shares, network and hostname. */
export const bootScript = `#!/bb/busybox sh
export PATH=/bb
/bb/busybox --install -s /bb
mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
mkdir -p /dev/pts /dev/shm /sys/fs/cgroup
mount -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts
ln -sf pts/ptmx /dev/ptmx
mount -t tmpfs -o nosuid,nodev,mode=1777 shm /dev/shm
mount -t tmpfs -o nosuid,nodev,mode=0755 run /run
mount -t tmpfs -o nosuid,nodev,mode=1777 tmp /tmp
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
echo "+cpu +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
share() {
  mkdir -p "$2"
  mount -t 9p -o "trans=virtio,version=9p2000.L,msize=512000,$3" "$1" "$2" || echo "styrolite: cannot mount the $1 share"
}
share usr /usr ro,cache=loose
share agent /styrolite/agent ro,cache=loose
share zone /run/zone cache=mmap
for word in $(cat /proc/cmdline); do
  case "$word" in
    styrolite.ip=*) ip_cidr="\${word#*=}" ;;
    styrolite.gw=*) gateway="\${word#*=}" ;;
    styrolite.hostname=*) hostname "\${word#*=}" ;;
    styrolite.nodeshare=1) share node /styrolite/node ro,cache=loose ;;
  esac
done
ip link set lo up
if [ -n "$ip_cidr" ]; then
  ip addr add "$ip_cidr" dev eth0 && ip link set eth0 up && ip route add default via "$gateway"
  echo "styrolite: eth0 $ip_cidr via $gateway"
fi
echo "${bootedMarker}: $(uname -sr), $(grep -c ^processor /proc/cpuinfo) CPUs, $(sed -n 's/^MemTotal: *//p' /proc/meminfo) memory"
`;

/**
 * The agent, as root with the OOM killer told to spare it: a workload that exhausts the VM's
 * memory loses, the agent that reports it does not.
 */
export const agentScript = `#!/bb/busybox sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/bb
port=
for p in /sys/class/virtio-ports/*; do
  [ "$(cat "$p/name" 2>/dev/null)" = ${agentPortName} ] && port="/dev/\${p##*/}"
done
if [ -z "$port" ]; then echo "styrolite: no ${agentPortName} port"; sleep 5; exit 1; fi
node=/usr/bin/node
for word in $(cat /proc/cmdline); do
  case "$word" in styrolite.node=*) node="\${word#*=}" ;; esac
done
echo -1000 > /proc/self/oom_score_adj
env NODE_PATH=/styrolite/agent/node_modules UV_THREADPOOL_SIZE=8 "$node" /styrolite/agent/vmAgent.js "$port"
echo "styrolite: the agent exited ($?); restarting it"
sleep 1
`;

/** A root shell on the serial console: the VM's own system, not a workload. */
export const consoleScript = `#!/bb/busybox sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/bb HOME=/root TERM=vt100
cd /root
exec /bb/sh -l
`;

export const etcFiles: Record<string, string> = {
  "etc/passwd": "root:x:0:0:root:/root:/bb/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bb/false\n",
  "etc/group": "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
  "etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
  "etc/profile": 'PS1="zone:\\w# "\n',
};
