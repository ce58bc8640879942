#!/usr/bin/env python3
"""The remote protocol over RDMA: Soft-RoCE (rdma_rxe) inside one QEMU guest running Debian's
generic 6.1 kernel (the cloud kernel has no rxe). The agent watches the guest itself
(--target host, through kmod/gpufas_pmem.ko built for that kernel) and listens on
rdma:10.0.2.15:PORT; the viewer runs in the same guest against that address, so every request
crosses rxe's real verbs: RDMA WRITE of the request, RDMA READ of the answer. Then the deaths:
SIGSTOP on the agent must read as "monitor dead" (rxe still serves the READs, no new answer
comes), SIGKILL as "link dead" (the connection is torn down). Prints one line per check and
`N passed, N failed, N skipped`.

    test/test_rdma.py [-k SUBSTRING]
    test/test_rdma.py --bench RUNS   heartbeat and snapshot round trips over rxe, with perftest's
                                     ib_write_lat and ib_read_lat on the same link (markdown)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from checks import Skip, check, fail
from guest import CACHE, Guest
import checks

TOP = Path(__file__).resolve().parent.parent
GPUFAS = str(TOP / 'gpufas')
TMP = Path(tempfile.mkdtemp(prefix='gpufas-rdma-'))
KERNEL_PKG = 'linux-image-6.1.0-56-amd64-unsigned'  # generic: its modules include rdma_rxe
WORKDIR = CACHE / 'rdma-guest'
# DESIGN.md's load order; crc32_generic is asked for at run time only
MODULES = ('virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover '
           'net_failover virtio_net crc32_generic udp_tunnel ip6_udp_tunnel ib_core ib_uverbs '
           'rdma_rxe configfs ib_cm iw_cm rdma_cm rdma_ucm').split()
USER_FILES = ['/usr/lib/x86_64-linux-gnu/libibverbs/librxe-rdmav34.so',
              '/etc/libibverbs.d/rxe.driver']
PROGRAMS = ['/usr/bin/rdma', '/usr/bin/ib_write_lat', '/usr/bin/ib_read_lat']
ADDR, PORT = '10.0.2.15', 7471
SPEC = f'rdma:{ADDR}:{PORT}'
TIMEOUT = 120  # TCG is slow: generous bounds for correctness


def prerequisites():
    """What the suite needs from this machine; a missing piece is a skip that says which."""
    missing = [f for f in USER_FILES + PROGRAMS if not os.path.exists(f)]
    if missing:
        raise Skip(f'missing on this machine: {", ".join(missing)} '
                   '(test/install-deps.sh installs ibverbs-providers, iproute2, perftest)')


def generic_kernel():
    """WORKDIR/vmlinuz-6.1 from the generic kernel package, and the shared initramfs beside it
    (a link, so that it stays the one build-guest.sh keeps up to date)."""
    WORKDIR.mkdir(parents=True, exist_ok=True)
    Guest('6.1')._ensure_built()
    initrd = WORKDIR / 'initramfs.cpio.gz'
    if not initrd.exists():
        initrd.symlink_to(Guest('6.1').initrd)
    kernel = WORKDIR / 'vmlinuz-6.1'
    if not kernel.exists():
        debs = sorted(CACHE.glob(f'{KERNEL_PKG}_*.deb'))
        if not debs:
            subprocess.run(['apt-get', 'download', '-q', '-o', 'APT::Sandbox::User=root',
                            KERNEL_PKG], cwd=CACHE, check=True, capture_output=True)
            debs = sorted(CACHE.glob(f'{KERNEL_PKG}_*.deb'))
        unpack = TMP / 'kernel'
        unpack.mkdir()
        subprocess.run(f'dpkg-deb --fsys-tarfile {debs[-1]} | tar -x -C {unpack} ./boot',
                       shell=True, check=True)
        shutil.move(str(next((unpack / 'boot').glob('vmlinuz-*'))), kernel)
    return kernel


def ldd(path):
    out = subprocess.run(['ldd', path], capture_output=True, text=True, check=True).stdout
    return [m[1] for line in out.splitlines() if (m := re.search(r'(/\S+) \(0x', line))]


def userspace(kernel):
    """A gzipped cpio: gpufas, the module for this kernel, rdma-core with the rxe provider,
    iproute2's rdma, perftest, and every library they load (libgcc_s too: glibc opens it at
    run time, and ldd does not list it)."""
    ko = subprocess.run([str(TOP / 'test' / 'build-kmod.sh'), str(kernel)], capture_output=True,
                        text=True)
    assert ko.returncode == 0, f'build-kmod.sh: {ko.stderr.strip()[-500:]}'
    files = {'/root/gpufas_pmem.ko': ko.stdout.strip(), '/bin/gpufas': GPUFAS}
    for path in PROGRAMS:
        files[f'/bin/{os.path.basename(path)}'] = path
    libs = {'/lib/x86_64-linux-gnu/libgcc_s.so.1', '/lib/x86_64-linux-gnu/libibverbs.so.1',
            '/lib/x86_64-linux-gnu/librdmacm.so.1'}
    for path in [GPUFAS, *PROGRAMS, *USER_FILES[:1], *libs]:
        libs.update(ldd(path))
    for lib in libs:
        files[lib.replace('/lib/x86_64-linux-gnu/', '/usr/lib/x86_64-linux-gnu/')] = lib
    files.update({f: f for f in USER_FILES})
    root = TMP / 'userspace'
    for dst, src in files.items():
        (root / dst[1:]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, root / dst[1:])
    (root / 'lib').symlink_to('usr/lib')
    out = TMP / 'userspace.cpio.gz'
    subprocess.run(f'find . | cpio -o -H newc -R 0:0 --quiet | gzip -1 >{out}', shell=True,
                   cwd=root, check=True)
    return out


def modules(kernel):
    out = TMP / 'rxe-modules.cpio.gz'
    subprocess.run([str(TOP / 'test' / 'guest-modules.sh'), str(kernel), str(out), *MODULES],
                   check=True, capture_output=True)
    return out


def rxe_guest():
    """The guest, booted, with rxe0 active on eth0 and the agent attached to the guest itself."""
    prerequisites()
    kernel = generic_kernel()
    g = Guest('6.1', mem_mib=1024, smp=2, workdir=WORKDIR,
              extra_initrd=[modules(kernel), userspace(kernel)],
              qemu_args=['-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0,romfile='])
    g.boot(timeout=TIMEOUT)
    g.check('for m in $(cat /modules/load-order); do insmod /modules/$m.ko || exit 1; done',
            timeout=TIMEOUT)
    g.check(f'ip link set eth0 up && ip addr add {ADDR}/24 dev eth0 && '
            'rdma link add rxe0 type rxe netdev eth0', timeout=TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    while 'ACTIVE' not in g.sh('cat /sys/class/infiniband/rxe0/ports/1/state')[1]:
        assert time.monotonic() < deadline, 'rxe0 never became ACTIVE'
        time.sleep(0.5)
    g.check('insmod /root/gpufas_pmem.ko write=1')
    for name in ('op', 'ro', 'wrong'):
        g.check(f'echo {os.urandom(32).hex()} >/root/{name}.key && chmod 600 /root/{name}.key')
    g.check('printf "[remote]\\nheartbeat_ms = 300\\ntimeout_ms = 3000\\n" >/root/viewer.ini')
    return g


def start_agent(g):
    g.agent = g.spawn(f'gpufas --agent --headless --target host --engine cpu --listen {SPEC} '
                      '--key /root/op.key --read-key /root/ro.key --events /tmp/events.jsonl')
    deadline = time.monotonic() + TIMEOUT
    while '"event":"attach"' not in g.sh('cat /tmp/events.jsonl 2>/dev/null')[1]:
        assert g.alive(g.agent), g.sh(f'cat {g._logs[g.agent]}')[1]
        assert time.monotonic() < deadline, 'the agent did not attach'
        time.sleep(0.5)


def view(g, args, key='op'):
    status, out = g.sh(f'gpufas --view {SPEC} --key /root/{key}.key {args} 2>/tmp/view.err',
                       timeout=TIMEOUT)
    return status, out, g.sh('cat /tmp/view.err')[1]


# ---- the checks ---------------------------------------------------------------------------------

def check_once(g):
    status, out, err = view(g, '--once --json')
    assert status == 0, err
    snap = json.loads(out)
    assert snap['release'] == g.check('uname -r'), snap['release']
    assert g.agent in {p['pid'] for p in snap['processes']}, 'the agent is not in its own list'
    assert len(snap['detectors']) == 10 and snap['metrics']['mem_total_kib'] > 0


def check_ps(g):
    sleeper = g.spawn('sleeper')
    g.wait_ready(sleeper)
    status, out, err = view(g, '--ps --json')
    assert status == 0, err
    assert sleeper in {p['pid'] for p in json.loads(out)}, 'no sleeper in --ps'


def check_heartbeat(g):
    status, out, err = view(g, '--heartbeat=3 --config /root/viewer.ini')
    assert status == 0, err + out
    assert len(re.findall(r'^beat \d: up, rtt [\d.]+ ms', out, re.M)) == 3, out


def check_log(g):
    g.check('echo gpufas-rdma-marker >/dev/kmsg')
    status, out, err = view(g, '--log=20')
    assert status == 0 and 'gpufas-rdma-marker' in out, err + out[-300:]


def check_detect(g):
    status, out, err = view(g, '--detect')
    assert status == 0, err
    assert len(out.splitlines()) == 10 and re.search(r'^panic\s+ok', out, re.M), out


def check_kill(g):
    # a parent shell that waits for the spinner and says how it ended (the guest's
    # interactive shell forgets a background job once it has reported its end)
    parent = g.spawn("sh -c 'spinner 1 & wait $!; echo status=$?'")
    victim = int(re.search(r'pid=(\d+)', g.wait_ready(parent))[1])
    status, out, err = view(g, f'--kill {victim}')
    assert status == 0, err
    wait_line(g, g._logs[parent], r'^status=137$')


def check_keys(g):
    status, out, err = view(g, f'--kill {g.agent}', key='ro')
    assert status == 1 and 'read-only' in err, err
    status, out, err = view(g, '--once', key='wrong')
    assert status == 1 and 'wrong key' in err, err
    assert 'refused: wrong key' in g.sh(f'cat {g._logs[g.agent]}')[1]


def wait_line(g, log, pattern):
    deadline = time.monotonic() + TIMEOUT
    while not re.search(pattern, text := g.sh(f'cat {log}')[1], re.M):
        assert time.monotonic() < deadline, f'no {pattern!r}: {text[-400:]}'
        time.sleep(0.5)
    return text


def check_monitor_dead_then_link_dead(g):
    viewer = g.spawn(f'gpufas --view {SPEC} --key /root/op.key --config /root/viewer.ini '
                     '--heartbeat')
    log = g._logs[viewer]
    wait_line(g, log, r': up, rtt')
    g.check(f'kill -STOP {g.agent}')
    text = wait_line(g, log, r'monitor dead: no answer within 3.0 s')
    assert 'link dead' not in text, text
    g.check(f'kill -CONT {g.agent}')
    mark = len(g.sh(f'cat {log}')[1])
    deadline = time.monotonic() + TIMEOUT
    while ': up, rtt' not in g.sh(f'cat {log}')[1][mark:]:
        assert time.monotonic() < deadline, 'no heartbeat after SIGCONT'
        time.sleep(0.5)
    mark = len(g.sh(f'cat {log}')[1])
    g.check(f'kill -KILL {g.agent}')
    deadline = time.monotonic() + TIMEOUT
    while not re.search(r'link dead', tail := g.sh(f'cat {log}')[1][mark:]):
        assert time.monotonic() < deadline, f'no link dead after SIGKILL: {tail[-400:]}'
        time.sleep(0.5)
    assert 'monitor dead' not in tail.split('link dead')[0], tail
    g.check(f'kill {viewer}')


def main():
    checks.parse_args()
    try:
        g = rxe_guest()
    except Skip as e:
        checks.skip('remote rdma (rxe guest)', str(e))
        return checks.summary()
    except Exception as e:
        fail('rxe guest', e)
        return checks.summary()
    with g:
        try:
            start_agent(g)
        except Exception as e:
            fail('agent on rdma', e)
            return checks.summary()
        for name, fn in (('--once --json over RDMA', check_once),
                         ('--ps over RDMA', check_ps),
                         ('--heartbeat over RDMA', check_heartbeat),
                         ('--log over RDMA', check_log),
                         ('--detect over RDMA', check_detect),
                         ('--kill over RDMA (status 137)', check_kill),
                         ('read-only and wrong keys over RDMA', check_keys),
                         ('SIGSTOP: monitor dead; SIGKILL: link dead (rxe)',
                          check_monitor_dead_then_link_dead)):
            check(f'remote rdma: {name}', fn, g)
    return checks.summary()


if __name__ == '__main__':
    sys.exit(main())
