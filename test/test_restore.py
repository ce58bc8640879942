#!/usr/bin/env python3
"""Snapshot and restore of real guests (README.md, "Snapshot and restore").

A 6.12 guest under TCG with a QMP socket and a small qcow2 drive for QEMU's device state is
snapshotted while healthy (gpufas --snapshot); a marker is written after the snapshot; the
kernel is panicked with `echo c >/proc/sysrq-trigger`; gpufas --restore brings back the
snapshot's kernel: its shell answers again, the marker is from before the snapshot, the
processes of then run, the clock goes on from the snapshot, and the kernel is the same boot
(same KASLR offset). The bad cases leave the guest as it was, with one clear line: no QMP
socket in the target, no snapshot, a truncated or damaged snapshot file, a QMP socket that is
gone, silent or answers garbage. The disk rule both ways: a writable qcow2 disk is rolled back
with the memory (the bytes written since are reported dropped), a writable raw disk that was
written since the snapshot makes the restore refuse, unless --force.
Prints one line per check and `N passed, N failed, N skipped`.

    test/test_restore.py [-k SUBSTRING]
"""
import json
import mmap
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from checks import check
from guest import Guest
import checks
import test_agent as ta  # its Agent runner and fault modules

TOP = Path(__file__).resolve().parent.parent
GPUFAS = os.environ.get('GPUFAS', str(TOP / 'gpufas'))  # e.g. ./gpufas-asan
TMP = Path(tempfile.mkdtemp(prefix='gpufas-restore-'))
KVER = '6.12'
# the panic's last line: printed once the other CPUs are stopped (its first line comes before)
PANIC = re.compile(rb'end Kernel panic - not syncing')
MODULES = ('virtio_blk', 'virtio_net')  # virtio_pci is built in


def guest_modules():
    """The virtio disk and network modules of the guest's kernel, for its initramfs."""
    out = TMP / 'modules.cpio.gz'
    if not out.exists():
        Guest(KVER)._ensure_built()
        subprocess.run([str(TOP / 'test' / 'guest-modules.sh'), str(Guest(KVER).kernel),
                        str(out), *MODULES], check=True, capture_output=True)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class RestoreGuest(Guest):
    """A guest with a QMP socket, a 16 MiB qcow2 drive holding the device state (node
    vmstate0), the disks given ((name, format) pairs attached as virtio disks, /dev/vda
    first) and a virtio NIC whose port 80 is forwarded to 127.0.0.1:self.port."""

    def __init__(self, name, disks=(), faults=False, mem_mib=512, append='panic=0',
                 extra=(), reboot=False):
        self.vmstate = ',vmstate=vmstate0' if disks else ''
        self.dir = TMP / name
        self.dir.mkdir()
        self.qmp_path = str(self.dir / 'qmp.sock')
        vmstate = self.dir / 'vmstate.qcow2'
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', str(vmstate), '16M'],
                       check=True)
        args = ['-qmp', f'unix:{self.qmp_path},server=on,wait=off',
                '-drive', f'file={vmstate},if=none,id=vmstate-drive,node-name=vmstate0,format=qcow2']
        for i, (disk, fmt) in enumerate(disks):
            path = self.dir / f'{disk}.{fmt}'
            subprocess.run(['qemu-img', 'create', '-q', '-f', fmt, str(path), '8M'], check=True)
            args += ['-drive', f'file={path},if=virtio,id={disk},format={fmt}']
        self.port = free_port()
        args += ['-netdev', f'user,id=n0,hostfwd=tcp:127.0.0.1:{self.port}-:80',
                 '-device', 'virtio-net-pci,netdev=n0,romfile=']
        super().__init__(KVER, mem_mib=mem_mib, append=append, qemu_args=args, reboot=reboot,
                         extra_initrd=[guest_modules(),
                                       *([ta.fault_modules(KVER)] if faults else []), *extra])
        self.config = self.dir / 'gpufas.ini'
        self.config.write_text(f'[recover]\nsnapshot_dir = {self.dir}/snapshots\n'
                               'qmp_timeout_ms = 2000\n')

    def start(self):
        """Boots, loads the modules, and starts the service: busybox httpd on port 80."""
        self.boot()
        self.check('for m in $(cat /modules/load-order); do insmod /modules/$m.ko || exit 1; '
                   'done', timeout=60)
        self.check('ip link set lo up && ip link set eth0 up && '
                   'ip addr add 10.0.2.15/24 dev eth0 && mkdir -p /www && '
                   'echo gpufas-service >/www/index.html && httpd -p 80 -h /www')
        assert self.service(30) == 'gpufas-service', \
            f'httpd does not answer on 127.0.0.1:{self.port}: {self.sh("netstat -tln")[1]}'
        return self

    def service(self, timeout=10, attempt=2):
        """The service's answer through the host forward, or None; each try waits at most
        `attempt` seconds (QEMU's forward accepts even while the guest is dead)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(('127.0.0.1', self.port), timeout=attempt) as s:
                    s.sendall(b'GET / HTTP/1.0\r\n\r\n')
                    data = b''
                    while chunk := s.recv(4096):
                        data += chunk
                body = data.partition(b'\r\n\r\n')[2].decode().strip()
                if body:
                    return body
            except OSError:
                pass
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    @property
    def target(self):
        return f'vm:{self.ram_path},qmp={self.qmp_path}{self.vmstate}'

    def gpufas(self, *args, target=None, config=None, timeout=120):
        """gpufas ARGS on this guest: (exit status, the JSON line or None, stderr)."""
        p = subprocess.run([GPUFAS, '--target', target or self.target,
                            '--config', str(config or self.config), *args],
                           capture_output=True, text=True, timeout=timeout)
        line = p.stdout.strip().splitlines()
        return p.returncode, json.loads(line[-1]) if line else None, p.stderr.strip()

    def snapshot(self, name='healthy'):
        rc, ev, err = self.gpufas('--snapshot', '--name', name)
        assert rc == 0 and ev['outcome'] == 'saved', (rc, ev, err)
        return ev

    def qmp_status(self):
        """query-status, over a connection of our own."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(self.qmp_path)
            f = s.makefile('rw')
            f.readline()
            for cmd in ('qmp_capabilities', 'query-status'):
                f.write(json.dumps({'execute': cmd}) + '\n')
                f.flush()
                while 'return' not in (reply := json.loads(f.readline())):
                    assert 'event' in reply, reply
            return reply['return']['status']

    def panic(self):
        start = len(self._out)
        self._send('echo c >/proc/sysrq-trigger\n')  # the shell dies with the kernel
        self._expect(PANIC, start, 60)

    def kaslr(self):
        p = subprocess.run([GPUFAS, '--target', f'vm:{self.ram_path}', '--info', '--json'],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)['kaslr_offset']


def one_line(err):
    return err and '\n' not in err


def uptime(g):
    return float(g.check('cat /proc/uptime').split()[0])


# ---- the guest with no guest disks: the panic, the bad cases ----

def check_no_qmp(g):
    rc, _, err = g.gpufas('--snapshot', target=f'vm:{g.ram_path}')
    assert rc == 1 and 'add ,qmp=SOCKET' in err and one_line(err), (rc, err)
    rc, _, err = g.gpufas('--restore', target=f'vm:{g.ram_path}')
    assert rc == 1 and 'add ,qmp=SOCKET' in err, (rc, err)


def check_no_snapshot(g):
    rc, ev, err = g.gpufas('--restore')
    assert rc == 1 and 'no snapshot' in err and one_line(err), (rc, err)
    assert ev['paused'] is False and g.qmp_status() == 'running', ev
    assert g.check('echo alive') == 'alive'


def check_panic_restore(g, state):
    """The heart of it: snapshot healthy, marker after, panic, restore."""
    g.check('echo before >/root/marker')
    sleeper = g.spawn('sleeper')
    g.wait_ready(sleeper)
    state['kaslr'] = g.kaslr()
    up0 = uptime(g)
    ev = g.snapshot()
    t_snap = time.monotonic()
    print(f'      snapshot: {ev["pages"]} pages, {ev["file_bytes"] >> 20} MiB file, paused '
          f'{ev["ms"]["paused"]:.0f} ms (copy {ev["ms"]["copy"]:.0f}, devices '
          f'{ev["ms"]["devices"]:.0f}), total {ev["ms"]["total"]:.0f} ms')
    assert ev['pages'] == g.mem_mib * 256 and ev['disks_rolled_back'] == 0, ev
    g.check('echo after >/root/marker; echo new >/root/new-file')
    g.panic()
    t_panic = time.monotonic()
    assert g.service(timeout=1) is None, 'the service answers a panicked kernel'
    rc, ev, err = g.gpufas('--restore')
    t_restored = time.monotonic()
    assert rc == 0 and ev['outcome'] == 'restored', (rc, ev, err)
    assert g.service() == 'gpufas-service', 'the service does not answer after the restore'
    print(f'      the service answered {(time.monotonic() - t_restored) * 1000:.0f} ms after '
          f'gpufas --restore returned')
    ms = ev['ms']
    print(f'      restore: {ev["pages_written"]} of {ev["pages_compared"]} pages written; '
          f'paused {ms["paused"]:.0f} ms: stop {ms["stop"]:.1f}, compare {ms["compare"]:.0f}, '
          f'verify {ms["verify"]:.1f}, write {ms["write"]:.1f}, devices {ms["devices"]:.0f}, '
          f'cont {ms["cont"]:.1f}; total {ms["total"]:.0f} ms')
    assert 0 < ev['pages_written'] < ev['pages_compared'] // 4, ev
    assert ev['paused'] is False and g.qmp_status() == 'running'
    assert g.check('cat /root/marker') == 'before'
    assert g.sh('cat /root/new-file')[0] != 0
    assert g.alive(sleeper), 'the sleeper of the snapshot is gone'
    up1 = uptime(g)
    # the guest's clock goes on from the snapshot: no more than the wall time since
    assert up0 <= up1 <= up0 + (time.monotonic() - t_snap) + 5, (up0, up1)
    assert up1 < up0 + (t_panic - t_snap) + 30, (up0, up1)
    assert g.kaslr() == state['kaslr'] == ev['kaslr_offset'], 'another boot after the restore'
    state['restored'] = True


def check_restore_again(g):
    """A second restore of the same snapshot: few pages changed since the first."""
    g.check('echo again >/root/marker')
    rc, ev, err = g.gpufas('--restore', '--name', 'healthy')
    assert rc == 0 and ev['outcome'] == 'restored', (rc, ev, err)
    assert g.check('cat /root/marker') == 'before'
    print(f'      again: {ev["pages_written"]} pages written, paused {ev["ms"]["paused"]:.0f} ms')


def snapshot_file(g, name='healthy'):
    return next((g.dir / 'snapshots').glob(f'*-{name}.gfsnap'))


def damaged_copy(g, name, damage):
    """A copy of the snapshot 'healthy' under `name`, damaged by damage(mmap, ram_off)."""
    src = snapshot_file(g)
    dst = src.with_name(src.name.replace('-healthy.', f'-{name}.'))
    shutil.copy(src, dst)
    with open(dst, 'r+b') as f:
        damage(f)
    return dst


def expect_refused(g, name, words):
    g.check('echo after >/root/marker')
    t0 = time.monotonic()
    rc, ev, err = g.gpufas('--restore', '--name', name)
    assert rc == 1 and words in err and one_line(err), (rc, err)
    assert ev['pages_written'] == 0 and ev['paused'] is False, ev
    assert g.qmp_status() == 'running'
    assert g.check('cat /root/marker') == 'after', 'a refused restore wrote memory'
    return time.monotonic() - t0


def check_truncated(g):
    def cut(f):
        f.truncate(os.fstat(f.fileno()).st_size - 4096)
    damaged_copy(g, 'truncated', cut)
    expect_refused(g, 'truncated', 'truncated')


def check_bad_table(g):
    def flip(f):
        f.seek(4096 + 1000)
        b = f.read(1)
        f.seek(4096 + 1000)
        f.write(bytes([b[0] ^ 0xff]))
    damaged_copy(g, 'badtable', flip)
    expect_refused(g, 'badtable', 'page hashes damaged')


def check_bad_pages(g):
    """Every page of the RAM copy damaged: the first page to write back fails its hash, after
    the pause and before any write; the guest runs on."""
    def every_page(f):
        size = os.fstat(f.fileno()).st_size
        with mmap.mmap(f.fileno(), size) as m:
            ram_off = size - 512 * 2**20
            for off in range(ram_off, size, 4096):
                m[off] ^= 0x5a
    damaged_copy(g, 'badpages', every_page)
    expect_refused(g, 'badpages', 'does not match its hash')


def check_qmp_gone(g):
    t0 = time.monotonic()
    rc, ev, err = g.gpufas('--restore', target=f'vm:{g.ram_path},qmp={g.dir}/gone.sock')
    assert rc == 1 and 'gone.sock' in err and one_line(err), (rc, err)
    assert time.monotonic() - t0 < 30
    assert g.check('echo alive') == 'alive'


def fake_qmp(path, answer):
    """A UNIX socket server that answers each connection with answer(conn)."""
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(4)

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            with c:
                try:
                    answer(c)
                except OSError:  # gpufas hung up first, as it should
                    pass
    threading.Thread(target=serve, daemon=True).start()
    return srv


def check_qmp_garbage(g):
    def garbage(c):
        c.sendall(b'\x00\x01not json at all\r\n')
        time.sleep(3)
    def greets_then_garbage(c):
        c.sendall(b'{"QMP": {"version": {}, "capabilities": []}}\r\n')
        c.recv(4096)
        c.sendall(b'{"return": {}, "id": 1}\r\n')
        c.recv(4096)  # query-block, say
        c.sendall(b'[1, 2, 3]\r\n')
        time.sleep(3)
    def silent(c):
        time.sleep(5)
    for name, answer, words in (('garbage', garbage, 'not QMP'),
                                ('greets', greets_then_garbage, 'not QMP'),
                                ('silent', silent, 'no answer in')):
        path = str(g.dir / f'{name}.sock')
        srv = fake_qmp(path, answer)
        try:
            t0 = time.monotonic()
            rc, _, err = g.gpufas('--restore', '--name', 'healthy',
                                  target=f'vm:{g.ram_path},qmp={path}')
            took = time.monotonic() - t0
        finally:
            srv.close()
        assert rc == 1 and words in err and one_line(err), (name, rc, err)
        assert took < 10, f'{name}: {took:.1f} s'
    assert g.qmp_status() == 'running'


def check_prune(g):
    """snapshot_keep = 2: a third snapshot removes the oldest, file and QEMU tag."""
    cfg = g.dir / 'keep.ini'
    cfg.write_text(g.config.read_text() + 'snapshot_keep = 2\n')
    for f in (g.dir / 'snapshots').glob('*-truncated.gfsnap'):
        f.unlink()
    for f in (g.dir / 'snapshots').glob('*-bad*.gfsnap'):
        f.unlink()
    for name in ('p1', 'p2'):
        rc, ev, err = g.gpufas('--snapshot', '--name', name, config=cfg)
        assert rc == 0, err
        time.sleep(0.05)
    names = sorted(p.name.rsplit('-', 1)[1] for p in (g.dir / 'snapshots').glob('*.gfsnap'))
    assert names == ['p1.gfsnap', 'p2.gfsnap'], names
    assert 'gpufas-healthy' not in g.monitor('info snapshots'), g.monitor('info snapshots')


def check_guest(state):
    with RestoreGuest('plain') as g:
        g.start()
        check('no QMP socket: the snapshot actions say what to add', check_no_qmp, g)
        check('restore with no snapshot: refused, the guest runs on', check_no_snapshot, g)
        check('panic, then restore: service, marker, processes, clock, same kernel',
              check_panic_restore, g, state)
        if not state.get('restored'):
            return
        check('restore again: few pages', check_restore_again, g)
        check('truncated snapshot: refused before the pause', check_truncated, g)
        check('damaged page hashes: refused before the pause', check_bad_table, g)
        check('damaged RAM copy: refused before any write', check_bad_pages, g)
        check('QMP socket gone: one line, no hang', check_qmp_gone, g)
        check('QMP answering garbage or nothing: one line, no hang', check_qmp_garbage, g)
        check('snapshot_keep prunes the oldest', check_prune, g)


# ---- the agent: snapshot when ready, restore on a panic and on an F1 hang ----

def agent_config(g):
    return (f'[recover]\nsnapshot_dir = {g.dir}/snapshots\nkernel = restore\n'
            'snapshot = ready\nready_ms = 1500\nready_process = httpd\nhang_ms = 1000\n')


def after(events, e0):
    return [e for e in events if e['time'] > e0['time'] and e['event'] != 'metrics']


def check_agent_panic(g, ag, state):
    first = ag.wait(lambda e: e['event'] == 'attach', 60, 'attach')
    snap = ag.wait(lambda e: e['event'] == 'snapshot', 60, 'snapshot')
    assert snap['outcome'] == 'saved', snap
    g.check('echo after >/root/marker')
    t0 = time.monotonic()
    g.panic()
    ev = ag.wait(lambda e: e['event'] == 'restore', 60, 'restore')
    assert ev['outcome'] == 'restored', ev
    assert g.service(timeout=30) == 'gpufas-service'
    down = time.monotonic() - t0
    again = ag.wait(lambda e: e['event'] == 'attach' and e['time'] > ev['time'], 30,
                    'attach after the restore')
    assert again['kaslr_offset'] == first['kaslr_offset'] == ev['kaslr_offset'], (first, again)
    time.sleep(3)
    noise = [e for e in after(ag.events(), again) if e['event'] in ('verdict', 'detach')]
    assert not noise, f'after the restore: {noise}'
    assert g.check('cat /root/marker') == 'before'
    detach = [e for e in after(ag.events(), snap) if e['event'] == 'detach']
    assert [e['reason'] for e in detach] == ['restoring the kernel from a snapshot'], detach
    print(f'      panic to the service answering again: {down * 1000:.0f} ms (the panic seen '
          f'on the console first); restore wrote {ev["pages_written"]} pages, paused '
          f'{ev["ms"]["paused"]:.0f} ms')
    state['agent'] = True


def check_agent_f1(g, ag):
    g.check('echo after >/root/marker')
    t0 = time.time()
    n = len([e for e in ag.events() if e['event'] == 'restore'])
    ta.insmod(g, 'f1')
    v = ag.verdict('F1', 60)
    assert v['time'] >= t0, v
    ev = ag.wait(lambda e: e['event'] == 'restore' and e['time'] > v['time'], 60,
                 'restore after F1')
    assert ev['outcome'] == 'restored' and len(
        [e for e in ag.events() if e['event'] == 'restore']) == n + 1, ev
    assert g.service(timeout=30) == 'gpufas-service'
    assert g.check('cat /root/marker') == 'before'
    assert 'f1' not in g.check('cat /proc/modules'), 'the F1 module is still loaded'
    print(f'      F1 at +{v["time"] - t0:.1f} s, restored {ev["time"] - v["time"]:.1f} s after '
          f'the verdict (hang_ms 1000)')


def check_agent_guest():
    state = {}
    check('agent: kernel = reset boots the guest again', check_agent_reset)
    with RestoreGuest('agent', faults=True) as g:
        g.start()
        g.check('echo before >/root/marker')
        with ta.Agent(g.target, config=agent_config(g)) as ag:
            check('agent: snapshot when ready, panic restored, same kernel, no false verdict',
                  check_agent_panic, g, ag, state)
            if state.get('agent'):
                check('agent: an F1 hang lasting hang_ms restored', check_agent_f1, g, ag)
            ag.wait(lambda e: e['event'] == 'attach', 60, 'attach')  # its signals handled
            assert ag.stop() == 0


def check_agent_reset():
    """kernel = reset: the panic answered by QMP system_reset, a new boot attached (QEMU
    without -no-reboot, which would make it exit instead)."""
    with RestoreGuest('reset', reboot=True) as g:
        g.start()
        config = f'[recover]\nsnapshot_dir = {g.dir}/snapshots\nkernel = reset\n'
        with ta.Agent(g.target, config=config) as ag:
            first = ag.wait(lambda e: e['event'] == 'attach', 60, 'attach')
            time.sleep(1.5)
            g.panic()
            ev = ag.wait(lambda e: e['event'] == 'reset', 60, 'reset')
            assert ev['outcome'] == 'reset', ev
            again = ag.wait(lambda e: e['event'] == 'attach' and e['time'] > ev['time'], 120,
                            'attach to the new boot')
            assert again['kaslr_offset'] != first['kaslr_offset'], (first, again)
            assert len([e for e in ag.events() if e['event'] == 'reset']) == 1
            assert ag.stop() == 0


# ---- the guest with disks: the rule of what a rollback may drop ----

def disk_write(g, dev, text):
    g.check(f'printf {text} | dd of=/dev/{dev} bs=512 conv=sync,fsync 2>/dev/null')


def disk_read(g, dev, n=11):
    return g.check(f'echo 3 >/proc/sys/vm/drop_caches; dd if=/dev/{dev} bs={n} count=1 '
                   '2>/dev/null')


def check_qcow2_rolled_back(g):
    """vda (qcow2) is snapshotted with the memory: written after, it comes back as before,
    and the restore says how many bytes it dropped."""
    disk_write(g, 'vda', 'DISK-BEFORE')
    disk_write(g, 'vdb', 'DISK-BEFORE')
    rc, _, err = g.gpufas('--snapshot', target=f'vm:{g.ram_path},qmp={g.qmp_path}')
    assert rc == 1 and 'more than one qcow2' in err and one_line(err), (rc, err)
    ev = g.snapshot('disks')
    assert ev['disks_rolled_back'] == 1, ev
    disk_write(g, 'vda', 'DISK-AFTER!')
    rc, ev, err = g.gpufas('--restore', '--name', 'disks')
    assert rc == 0 and ev['outcome'] == 'restored', (rc, ev, err)
    assert ev['disk_bytes_dropped'] >= 512, ev
    assert disk_read(g, 'vda') == 'DISK-BEFORE'
    print(f'      vda rolled back, {ev["disk_bytes_dropped"]} bytes written since dropped')


def check_raw_refused(g):
    """vdb (raw) cannot be rolled back: written since the snapshot, the restore is refused
    and the guest runs on untouched; --force restores the memory anyway."""
    disk_write(g, 'vdb', 'DISK-AFTER!')
    g.check('echo after >/root/marker')
    rc, ev, err = g.gpufas('--restore', '--name', 'disks')
    assert rc == 1 and ev['outcome'] == 'refused' and 'disk r ' in err, (rc, ev, err)
    assert one_line(err) and ev['pages_written'] == 0 and g.qmp_status() == 'running'
    assert g.check('cat /root/marker') == 'after'
    rc, ev, err = g.gpufas('--restore', '--name', 'disks', '--force')
    assert rc == 0 and ev['outcome'] == 'restored', (rc, ev, err)
    assert g.sh('cat /root/marker')[0] != 0  # written after the snapshot: gone
    assert disk_read(g, 'vdb') == 'DISK-AFTER!'  # raw: not rolled back


def check_disk_guest():
    with RestoreGuest('disks', disks=(('q', 'qcow2'), ('r', 'raw'))) as g:
        g.start()
        check('disk rule: a qcow2 disk rolls back with the memory', check_qcow2_rolled_back, g)
        check('disk rule: a raw disk written since refuses, --force restores',
              check_raw_refused, g)


def main():
    checks.parse_args()
    t0 = time.monotonic()
    try:
        assert os.access(GPUFAS, os.X_OK), 'build ./gpufas first (make)'
        state = {}
        for run in (lambda: check_guest(state), check_disk_guest, check_agent_guest):
            try:
                run()
            except Exception as e:
                checks.fail(f'{KVER} guest', e)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
        shutil.rmtree(ta.TMP, ignore_errors=True)
    print(f'      ({time.monotonic() - t0:.0f} s)')
    return checks.summary()


if __name__ == '__main__':
    raise SystemExit(main())
