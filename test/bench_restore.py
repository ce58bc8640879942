#!/usr/bin/env python3
"""make bench-restore: kernel-failure recovery of a real 6.12 guest (TCG), measured.

1. Downtime, from the fault (`echo c >/proc/sysrq-trigger`) to the guest's service (busybox
   httpd, started by the guest's /init, reached through a QEMU host forward) answering again:
   the guest's own panic=1 reboot; the agent with [recover] kernel = reset (QMP system_reset,
   a full boot); the agent with kernel = restore (gpufas's restore of a snapshot taken when
   healthy). Detection is part of the agent's figures.
2. The restore's own time (gpufas --restore, the guest paused from stop to cont) for 512 MiB
   and 4 GiB guests with 60 % of their RAM holding a workload's data, with few pages changed
   (a panic) and with 5 % of RAM changed (a hog touching it after the snapshot), against
   QEMU's own full restore of the same state: the snapshot saved with its RAM (no
   x-ignore-shared) and loaded with snapshot-load, stop to cont.

Prints markdown tables (medians and ranges over --runs runs) for the README.

    test/bench_restore.py [--runs N] [--big-mib MIB]
"""
import argparse
import json
import socket
import statistics
import subprocess
import sys
import re
import shutil
import time

from guest import PROMPT
import test_restore as tr

BOOTED = re.compile(rb'gpufas guest: Linux')
WORKLOAD_PCT = 60  # of the guest's RAM filled with data before the snapshot

INIT = '''#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root PS1='gpufas# '
cd /root
for m in $(cat /modules/load-order); do insmod /modules/$m.ko; done
ip link set lo up; ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0
mkdir -p /www; echo gpufas-service >/www/index.html; httpd -p 80 -h /www
echo "gpufas guest: Linux $(uname -r)"
while :; do
	setsid cttyhack sh
	echo "gpufas guest: shell exited, starting a new one"
done
'''


def service_init():
    """A cpio whose /init starts the service at every boot (it replaces the guest's)."""
    root = tr.TMP / 'init-root'
    root.mkdir(exist_ok=True)
    (root / 'init').write_text(INIT)
    (root / 'init').chmod(0o755)
    out = tr.TMP / 'service-init.cpio.gz'
    subprocess.run(f'echo init | cpio -o -H newc -R 0:0 --quiet | gzip -1 >{out}', shell=True,
                   cwd=root, check=True)
    return out


class QMP:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(600)
        self.s.connect(path)
        self.f = self.s.makefile('rw')
        self.f.readline()
        self('qmp_capabilities')

    def __call__(self, cmd, **args):
        self.f.write(json.dumps({'execute': cmd, 'arguments': args}) + '\n')
        self.f.flush()
        while True:
            reply = json.loads(self.f.readline())
            if 'return' in reply:
                return reply['return']
            if 'error' in reply:
                raise RuntimeError(f'{cmd}: {reply["error"]}')

    def job(self, cmd, **args):
        self(cmd, **args)
        while True:
            job = next(j for j in self('query-jobs') if j['id'] == args['job-id'])
            if job['status'] == 'concluded':
                self('job-dismiss', id=args['job-id'])
                if 'error' in job:
                    raise RuntimeError(f'{cmd}: {job["error"]}')
                return
            time.sleep(0.002)

    def close(self):
        self.f.close()  # the file holds the socket open too
        self.s.close()


def fmt(xs, unit='ms'):
    xs = sorted(xs)
    return f'{statistics.median(xs):.0f} {unit} ({xs[0]:.0f}–{xs[-1]:.0f})'


# ---- 1. downtime ----

def down_reboot(runs):
    """The guest's own panic=1: the kernel reboots itself a second after the panic."""
    times = []
    with tr.RestoreGuest('reboot', append='panic=1', extra=[service_init()], reboot=True) as g:
        g.boot()
        assert g.service(30) == 'gpufas-service'
        for _ in range(runs):
            start = len(g._out)
            t0 = time.monotonic()
            g._send('echo c >/proc/sysrq-trigger\n')
            panic = g._expect(tr.PANIC, start, 60)
            booted = g._expect(BOOTED, panic.end(), 120)  # the new boot's /init
            assert g.service(120, attempt=0.2) == 'gpufas-service'
            times.append((time.monotonic() - t0) * 1000)
            print(f'  reboot: {times[-1]:.0f} ms', file=sys.stderr, flush=True)
            g._expect(PROMPT, booted.end(), 60)
    return times


def agent_downtime(name, runs, kernel):
    times = []
    # -no-reboot would make QEMU exit on system_reset too
    with tr.RestoreGuest(name, extra=[service_init()], reboot=kernel == 'reset') as g:
        g.boot()
        assert g.service(30) == 'gpufas-service'
        if kernel == 'restore':
            g.snapshot()
        config = (f'[recover]\nsnapshot_dir = {g.dir}/snapshots\nkernel = {kernel}\n')
        with tr.ta.Agent(g.target, config=config) as ag:
            for i in range(runs):
                ag.wait(lambda e: e['event'] == 'attach' and
                        len([a for a in ag.events() if a['event'] == 'attach']) > i, 120,
                        'attach')
                time.sleep(1.5)  # a quiet history first
                start = len(g._out)
                t0 = time.monotonic()
                g._send('echo c >/proc/sysrq-trigger\n')
                panic = g._expect(tr.PANIC, start, 60)
                if kernel == 'reset':
                    g._expect(BOOTED, panic.end(), 120)
                assert g.service(120, attempt=0.2) == 'gpufas-service'
                times.append((time.monotonic() - t0) * 1000)
                print(f'  {name}: {times[-1]:.0f} ms', file=sys.stderr, flush=True)
            ag.stop()
    return times


# ---- 2. the restore itself, against QEMU's full restore ----

def restore_times(mib, runs, changed_pct):
    """gpufas --restore's pause and pages, and QEMU's full snapshot-load of the same state."""
    ours, pages, full = [], [], []
    with tr.RestoreGuest(f'size-{mib}-{changed_pct}', mem_mib=mib,
                         extra=[service_init()]) as g:
        g.boot(timeout=240)
        # a guest at work: most of its RAM holds data (an idle guest's RAM is zero pages,
        # which QEMU's stream carries as flags only)
        g.wait_ready(g.spawn(f'hog {mib * WORKLOAD_PCT // 100}'), timeout=900)
        g.snapshot()
        # QEMU's own: the same running guest saved with its RAM, in the same vmstate drive.
        # A QMP socket serves one client at a time: ours is closed while gpufas runs.
        q = QMP(g.qmp_path)
        q('migrate-set-capabilities', capabilities=[{'capability': 'x-ignore-shared',
                                                     'state': False}])
        q('stop')
        q.job('snapshot-save', **{'job-id': 'full-save', 'tag': 'full', 'vmstate': 'vmstate0',
                                  'devices': ['vmstate0']})
        q('cont')
        q.close()
        for _ in range(runs):
            change(g, mib, changed_pct)
            rc, ev, err = g.gpufas('--restore', '--name', 'healthy', timeout=600)
            assert rc == 0, err
            ours.append(ev['ms']['paused'])
            phases = ', '.join(f'{k} {ev["ms"][k]:.0f}' for k in
                               ('stop', 'compare', 'verify', 'write', 'devices', 'cont'))
            pages.append(ev['pages_written'])
            change(g, mib, changed_pct)
            q = QMP(g.qmp_path)
            q('migrate-set-capabilities', capabilities=[{'capability': 'x-ignore-shared',
                                                         'state': False}])
            t0 = time.monotonic()
            q('stop')
            q.job('snapshot-load', **{'job-id': 'full-load', 'tag': 'full',
                                      'vmstate': 'vmstate0', 'devices': ['vmstate0']})
            q('cont')
            full.append((time.monotonic() - t0) * 1000)
            q.close()
            assert g.service(60) == 'gpufas-service'
            print(f'  {mib} MiB, {changed_pct} %: gpufas {ours[-1]:.0f} ms ({pages[-1]} pages; '
                  f'{phases}), QEMU {full[-1]:.0f} ms', file=sys.stderr, flush=True)
    return ours, pages, full


def change(g, mib, pct):
    """pct % of the guest's RAM written after the snapshot (a hog), or a panic (pct 0)."""
    if pct == 0:
        g.panic()
        return
    pid = g.spawn(f'hog {mib * pct // 100}')
    g.wait_ready(pid, timeout=300)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--big-mib', type=int, default=4096)
    ap.add_argument('--only', choices=('downtime', 'restore'))
    args = ap.parse_args()
    try:
        if args.only != 'restore':
            rows = [('guest panic=1 reboot', down_reboot(args.runs)),
                    ('agent, kernel = reset (QMP system_reset)',
                     agent_downtime('reset', args.runs, 'reset')),
                    ('agent, kernel = restore', agent_downtime('restore', args.runs, 'restore'))]
            base = statistics.median(rows[0][1])
            print('\n| recovery from a panic (512 MiB, 6.12, TCG) | fault to service answering '
                  '| downtime vs reboot |\n|---|---|---|')
            for name, xs in rows:
                print(f'| {name} | {fmt(xs)} | {100 * (statistics.median(xs) / base - 1):+.0f} % |'
                      if name != rows[0][0] else f'| {name} | {fmt(xs)} | |', flush=True)
        if args.only != 'downtime':
            print('\n| guest | pages changed | gpufas restore (paused) | pages written '
                  '| QEMU full restore | speed-up |\n|---|---|---|---|---|---|')
            for mib in (512, args.big_mib):
                for pct in (0, 5):
                    ours, pages, full = restore_times(mib, args.runs, pct)
                    what = 'few (a panic)' if pct == 0 else f'{pct} % (a hog)'
                    print(f'| {mib} MiB | {what} | {fmt(ours)} | {statistics.median(pages):.0f} '
                          f'| {fmt(full)} | {statistics.median(full) / statistics.median(ours):.1f}× |',
                          flush=True)
    finally:
        shutil.rmtree(tr.TMP, ignore_errors=True)
        shutil.rmtree(tr.ta.TMP, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
