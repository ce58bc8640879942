#!/usr/bin/env python3
"""make bench-recovery: how fast a memory hog is stopped in a thrashing guest, by gpufas from
outside the guest and by the in-OS ways, all in the same guest.

The guest (test/build-disk-guest.sh): Debian cloud kernel, 512 MiB, 2 vCPUs, TCG; its programs
on an ext4 root on a virtio disk, 1 GiB of swap on a second one, both throttled to 8 MB/s, so
that memory pressure evicts program pages and everything stalls on refaults (real thrashing;
an initramfs guest with zram never thrashes). Its RAM is a /dev/shm file, as in every test.

In every run (one boot each): a 10 Hz heartbeat (test/guest/heartbeat.c, an ordinary process,
not mlocked) and the contender start; then recmeter (test/guest/recmeter.c: mlocked) starts
`hog 2048 64` (64 MiB/s, more than RAM + swap) and measures on the guest's clock the hog's
start and end, the first 10 Hz sample where MemAvailable < PCT % of MemTotal (the moment a
detector could first decide), the heartbeat's longest gap, and which processes older than the
hog did not survive, and, from the moment a SIGKILL is pending for the hog until it ends, its
state and wait channel at 100 Hz (where it sleeps while the signal waits). Contenders:
  gpufas   the agent outside the guest: gpufas --agent --headless --target vm:RAM
           --events FILE --config FILE, with [recover] memory = kill, dry_run = false;
           started after boot, the run begins once it wrote its "attach" event
  helper   the same agent, with kmod/gpufas_helper.ko loaded in the guest (built against
           Debian's headers of its kernel, handed in as a raw third drive): the SIGKILL goes
           through the guest kernel, which wakes a sleeping hog
  earlyoom Debian bookworm's earlyoom in the guest, default settings
  kernel   the kernel's OOM killer alone
  pkill    an in-guest shell loop (/bin/pkill-loop): every 100 ms, SIGKILL the hog when
           MemAvailable < PCT % (busybox killall: Debian's busybox has no pkill)
Runs go round-robin over the contenders. A run whose hog is still alive after --timeout
seconds is reported as "no recovery within T" (recmeter then kills the hog).

Prints a Markdown table (median, min-max per contender) and the ratio of each in-OS way to
gpufas; writes every run's raw figures to test/out/bench-recovery-KVER-STAMP.json and each
run's console to the folder of the same name.

    python3 test/bench_recovery.py [--runs 3] [--only gpufas,kernel] [--kver 6.1]
        [--timeout 240] [--pct 10] [--hog-mib 2048] [--hog-rate 64]
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from guest import CACHE, Guest, GuestError

TOP = Path(__file__).resolve().parent.parent
HERE = TOP / 'test'
OUT = TOP / 'test' / 'out'
DISK = CACHE / 'disk-guest'
CONTENDERS = ('gpufas', 'helper', 'earlyoom', 'kernel', 'pkill')
AGENTS = ('gpufas', 'helper')  # the contenders that are gpufas's agent
BPS = 8 * 1024 * 1024  # both disks: 8 MB/s, reads and writes together
SWAP_MIB = 1024
HB_STATE = '/tmp/heartbeat.state'
RESULT = re.compile(rb'RECMETER ([^\r\n]*)\r?\n')
STARTED = re.compile(rb'recmeter: \S+ started, pid (\d+), at ([0-9.]+)\r?\n')
GPUFAS_CONFIG = """\
; written by test/bench_recovery.py
[recover]
memory = kill
dry_run = false
"""


def agent_available():
    """True when ./gpufas has the agent (its --help names --agent)."""
    exe = TOP / 'gpufas'
    if not exe.exists():
        return False
    r = subprocess.run([str(exe), '--help'], capture_output=True, text=True)
    return '--agent' in r.stdout + r.stderr


def build(kver):
    subprocess.run([str(HERE / 'build-disk-guest.sh'), kver, str(DISK)], check=True,
                   stdout=subprocess.DEVNULL)


def helper_drive(kver, rundir):
    """A raw image holding kmod/gpufas_helper.ko built for kver's kernel; (path, bytes)."""
    out = subprocess.run([str(HERE / 'build-kmod.sh'), '--dir', str(TOP / 'kmod'),
                          str(CACHE / 'guest' / f'vmlinuz-{kver}')], capture_output=True,
                         text=True, check=True)
    ko = (Path(out.stdout.strip()) / 'gpufas_helper.ko').read_bytes()
    img = Path(rundir) / 'helper.img'
    img.write_bytes(ko + bytes(-len(ko) % 512))
    return img, len(ko)


def sweep():
    """Removes the run dirs (swap images) of earlier harnesses that were killed outright."""
    for d in DISK.glob('gpufas-recovery-*'):
        try:
            os.kill(int(d.name.split('-')[2]), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            pass


def parse_kv(line):
    return dict(f.split('=', 1) for f in line.split() if '=' in f)


def num(v):
    """recmeter's figure, None where it has none ('none', or -1 for an exit never seen)."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if x >= 0 else None


def wait_log(g, log, pattern, timeout=60):
    """Waits until the guest file `log` matches `pattern`; returns its text."""
    deadline = time.monotonic() + timeout
    while True:
        out = g.sh(f'cat {log} 2>/dev/null')[1]
        if re.search(pattern, out, re.M):
            return out
        if time.monotonic() > deadline:
            raise TimeoutError(f'no {pattern!r} in {log} after {timeout} s: {out[-500:]}')
        time.sleep(0.2)


class Agent:
    """./gpufas --agent on the guest's RAM file, its events in rundir/events.jsonl."""

    def __init__(self, g, rundir):
        self.events_path = Path(rundir) / 'events.jsonl'
        self.config = Path(rundir) / 'recover.ini'
        self.config.write_text(GPUFAS_CONFIG)
        self.stderr_path = Path(rundir) / 'agent.stderr'
        self.cmd = [str(TOP / 'gpufas'), '--agent', '--headless', '--target',
                    f'vm:{g.ram_path}', '--events', str(self.events_path),
                    '--config', str(self.config)]
        with open(self.stderr_path, 'wb') as err:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         start_new_session=True)

    def events(self):
        if not self.events_path.exists():
            return []
        evs = []
        for line in self.events_path.read_text(errors='replace').splitlines():
            try:
                evs.append(json.loads(line))
            except json.JSONDecodeError:
                evs.append({'event': 'unparsed', 'line': line[:300]})
        return evs

    def wait_attach(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e.get('event') == 'attach' for e in self.events()):
                return
            if self.proc.poll() is not None:
                raise GuestError(f'gpufas agent exited {self.proc.returncode} before attaching: '
                                 + self.stderr_path.read_text(errors='replace')[-1000:])
            time.sleep(0.1)
        raise TimeoutError(f'gpufas agent wrote no attach event in {timeout} s')

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def one_run(contender, n, args, logdir):
    """Boots a guest, runs the hog against `contender`; returns the run's record."""
    rec = {'contender': contender, 'run': n, 'kver': args.kver, 'pct': args.pct,
           'timeout_s': args.timeout, 'hog': f'{args.hog_mib} {args.hog_rate}'}
    rundir = tempfile.mkdtemp(prefix=f'gpufas-recovery-{os.getpid()}-', dir=DISK)
    swap = Path(rundir) / 'swap.img'
    with open(swap, 'wb') as f:
        f.truncate(SWAP_MIB << 20)
    root = DISK / 'root.ext4'
    drives = ['-drive', f'file={root},format=raw,if=virtio,cache=none,readonly=on,'
                        f'throttling.bps-total={BPS}',
              '-drive', f'file={swap},format=raw,if=virtio,cache=none,'
                        f'throttling.bps-total={BPS}']
    if contender == 'helper':
        img, ko_bytes = helper_drive(args.kver, rundir)
        drives += ['-drive', f'file={img},format=raw,if=virtio,readonly=on']
    agent = None
    g = Guest(args.kver, mem_mib=512, smp=2, qemu_args=drives,
              extra_initrd=DISK / f'stage1-{args.kver}.cpio.gz')
    try:
        t0 = time.monotonic()
        g.boot(timeout=180)
        rec['boot_s'] = round(time.monotonic() - t0, 2)
        if g.sh('grep -c /dev/vdb /proc/swaps')[1] != '1':
            raise GuestError('the guest has no swap on /dev/vdb')
        if contender == 'earlyoom':
            g.check('earlyoom >/tmp/earlyoom.log 2>&1 &')
            wait_log(g, '/tmp/earlyoom.log', r'sending SIGTERM when')
        elif contender == 'pkill':
            g.check(f'pkill-loop {args.pct:g} hog >/tmp/pkill-loop.log 2>&1 &')
            g.wait_ready('/tmp/pkill-loop.log')
        elif contender in AGENTS:
            if contender == 'helper':
                g.check(f'head -c {ko_bytes} /dev/vdc >/tmp/gpufas_helper.ko && '
                        'insmod /tmp/gpufas_helper.ko')
            agent = Agent(g, rundir)
            agent.wait_attach()
            rec['agent_cmd'] = agent.cmd
        g.check(f'heartbeat {HB_STATE} >/tmp/heartbeat.log 2>&1 &')
        g.wait_ready('/tmp/heartbeat.log')
        time.sleep(2)  # every bystander older than recmeter's 1 s, the guest idle
        start = len(g._out)
        # recmeter talks to the console directly: the harness waits on the console and sends
        # the guest nothing while the hog runs
        g.check(f'recmeter -p {args.pct:g} -t {args.timeout:g} -b {HB_STATE} -- '
                f'hog {args.hog_mib} {args.hog_rate} >/dev/ttyS0 2>&1 &')
        m = g._expect(STARTED, start, 60)
        rec['hog_pid'] = int(m[1])
        # host unix time minus guest monotonic time, to put the agent's events on the guest's
        # clock (the console line arrives within milliseconds while the guest is not yet busy)
        rec['host_minus_guest_s'] = time.time() - float(m[2])
        m = g._expect(RESULT, start, args.timeout + 120 + 30 + 60)
        kv = parse_kv(m[1].decode(errors='replace'))
        rec['recmeter'] = kv
        # who acted: the kernel's log, earlyoom's, the loop's, the agent's events
        killers = []
        dmesg = g.sh("dmesg | grep -E 'Out of memory|Killed process|oom-kill' | tail -20",
                     timeout=120)[1]
        rec['dmesg_oom'] = dmesg
        if re.search(rf'Killed process {rec["hog_pid"]}\b', dmesg):
            killers.append('kernel')
        if contender == 'earlyoom':
            log = g.sh('cat /tmp/earlyoom.log', timeout=120)[1]
            rec['earlyoom_log'] = log[-3000:]
            if re.search(rf'sending SIG\w+ to process {rec["hog_pid"]}\b', log):
                killers.append('earlyoom')
        if contender == 'pkill':
            log = g.sh('cat /tmp/pkill-loop.log', timeout=120)[1]
            rec['pkill_log'] = log[-3000:]
            if 'killed hog' in log:
                killers.append('pkill')
        if agent:
            agent.stop()
            evs = agent.events()
            rec['agent_rc'] = agent.proc.returncode
            rec['agent_stderr'] = agent.stderr_path.read_text(errors='replace')[-3000:]
            rec['agent_metrics_events'] = sum(e.get('event') == 'metrics' for e in evs)
            rec['agent_events'] = [e for e in evs if e.get('event') != 'metrics'][:200]
            acts = [e for e in evs if e.get('event') == 'action' and e.get('pid') == rec['hog_pid']]
            verdicts = [e for e in evs if e.get('event') == 'verdict']
            off = rec['host_minus_guest_s']
            if verdicts and isinstance(verdicts[0].get('time'), (int, float)):
                rec['first_verdict_guest_s'] = verdicts[0]['time'] - off
            if acts:
                killers.append('gpufas')
                if isinstance(acts[0].get('time'), (int, float)):
                    rec['hog_action_guest_s'] = acts[0]['time'] - off
                rec['hog_action_path'] = acts[-1].get('path', 'pseudo-signal')
        rec['killers'] = killers
    except (GuestError, TimeoutError, OSError, subprocess.SubprocessError) as e:
        rec['error'] = f'{type(e).__name__}: {e}'[:3000]
    finally:
        if agent:
            agent.stop()
        (logdir / f'{contender}-{n}.console').write_bytes(bytes(g._out))
        g.close()
        swap.unlink(missing_ok=True)
        for f in Path(rundir).iterdir():
            (logdir / f'{contender}-{n}.{f.name}').write_bytes(f.read_bytes())
            f.unlink()
        os.rmdir(rundir)
    derive(rec)
    return rec


def derive(rec):
    """The figures the table shows, from recmeter's line."""
    kv = rec.get('recmeter', {})
    start, exit_t, cross = num(kv.get('start')), num(kv.get('exit')), num(kv.get('cross'))
    status = kv.get('status')
    rec['recovered'] = status in ('killed', 'exited') and exit_t is not None
    rec['hog_start_to_death_s'] = exit_t - start if rec['recovered'] else None
    rec['threshold_to_death_s'] = exit_t - cross if rec['recovered'] and cross else None
    rec['start_to_threshold_s'] = cross - start if cross else None
    rec['heartbeat_max_gap_s'] = num(kv.get('hb_maxgap'))
    lost = [] if kv.get('lost', '-') == '-' else kv['lost'].split(',')
    rec['lost'] = lost
    rec['heartbeat_survived'] = (kv.get('hb_beating') == '1' and
                                 not any(p.startswith('heartbeat:') for p in lost))
    rec['others_survived'] = not [p for p in lost if not p.startswith('heartbeat:')]
    seen = num(kv.get('kill_seen'))
    rec['kill_pending_to_death_s'] = exit_t - seen if seen is not None and exit_t else None
    rec['kill_states'] = [] if kv.get('kill_states', '-') == '-' else [
        dict(zip(('state', 'wchan', 'samples'), f.rsplit(':', 2)))
        for f in kv['kill_states'].split(',')]
    if 'error' in rec:
        rec['outcome'] = 'error'
    elif status == 'timeout':
        rec['outcome'] = f'no recovery within {rec["timeout_s"]:g} s'
    elif not rec['recovered']:
        rec['outcome'] = f'no result ({status})'
    else:
        rec['outcome'] = f'hog {status} ({kv.get("sig")})'


def stats(values):
    v = [x for x in values if x is not None]
    if not v:
        return '–'
    return f'{statistics.median(v):.2f} ({min(v):.2f}–{max(v):.2f})'


def sleeps(rs):
    """Where the hogs slept while their SIGKILL was pending: STATE wchan (samples), summed
    over the runs, most seen first."""
    count = {}
    for r in rs:
        for st in r.get('kill_states', []):
            key = f'{st["state"]} {st["wchan"]}'
            count[key] = count.get(key, 0) + int(st['samples'])
    return ', '.join(f'{k} ({n})' for k, n in sorted(count.items(), key=lambda kv: -kv[1])[:4])


def pending_col(ok):
    """SIGKILL pending → death, over the runs where recmeter saw it pending: a hog that died
    within one 10 ms sample of the signal never shows it."""
    seen = [r['kill_pending_to_death_s'] for r in ok if r['kill_pending_to_death_s'] is not None]
    return f'{stats(seen)}, seen in {len(seen)}/{len(ok)}' if ok else '–'


def table(records, args):
    lines = ['| contender | recovered | hog start → death, s | threshold → death, s | '
             'SIGKILL pending → death, s | heartbeat longest gap, s | heartbeat survived | '
             'others survived | killed by |',
             '|---|---|---|---|---|---|---|---|---|']
    med = {}
    for c in args.only:
        rs = [r for r in records if r['contender'] == c]
        if not rs:
            continue
        if all(r.get('skipped') for r in rs):
            lines.append(f'| {c} | {rs[0]["skipped"]} | | | | | | | |')
            continue
        rs = [r for r in rs if not r.get('skipped')]
        ok = [r for r in rs if r['recovered']]
        fails = sorted({r['outcome'] for r in rs if not r['recovered']})
        rec_col = f'{len(ok)}/{len(rs)}' + (f' ({"; ".join(fails)})' if fails else '')
        killers = sorted({'+'.join(r.get('killers') or ['?']) for r in ok})
        lines.append(
            f'| {c} | {rec_col} | {stats([r["hog_start_to_death_s"] for r in ok])} '
            f'| {stats([r["threshold_to_death_s"] for r in ok])} '
            f'| {pending_col(ok)} '
            f'| {stats([r["heartbeat_max_gap_s"] for r in rs])} '
            f'| {sum(r["heartbeat_survived"] for r in rs)}/{len(rs)} '
            f'| {sum(r["others_survived"] for r in rs)}/{len(rs)} | {", ".join(killers) or "–"} |')
        if ok and len(ok) == len(rs):
            med[c] = {k: statistics.median(v) if (v := [r[k] for r in ok if r[k] is not None])
                      else None for k in ('hog_start_to_death_s', 'threshold_to_death_s')}
    out = '\n'.join(lines)
    where = [f'- {c}: {w}' for c in args.only
             if (w := sleeps([r for r in records if r['contender'] == c and r.get('recovered')]))]
    if where:
        out += ('\n\nThe hog\'s state and wait channel while its SIGKILL was pending '
                '(100 Hz samples, all runs):\n' + '\n'.join(where))
    g = med.get('gpufas')
    if g:
        ratios = []
        for c in ('helper', 'earlyoom', 'kernel', 'pkill'):
            if c in med:
                parts = []
                for k, name in (('threshold_to_death_s', 'threshold → death'),
                                ('hog_start_to_death_s', 'hog start → death')):
                    if med[c][k] is not None and g[k]:
                        parts.append(f'{name} {med[c][k] / g[k]:.1f}×')
                ratios.append(f'- {c} / gpufas (medians): ' + ', '.join(parts))
        if ratios:
            out += '\n\n' + '\n'.join(ratios)
    elif 'gpufas' in args.only:
        out += ('\n\nno ratio to gpufas: it did not recover every run (or did not run); '
                'a contender with a failed run has no median either')
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--runs', type=int, default=3, help='runs per contender (default 3)')
    ap.add_argument('--only', default=','.join(CONTENDERS),
                    help=f'comma-separated contenders among {",".join(CONTENDERS)}')
    ap.add_argument('--kver', choices=('6.1', '6.12'), default='6.1')
    ap.add_argument('--timeout', type=float, default=240,
                    help='seconds from the hog\'s start before a run counts as no recovery')
    ap.add_argument('--pct', type=float, default=10,
                    help='detection threshold: MemAvailable below PCT %% of MemTotal')
    ap.add_argument('--hog-mib', type=int, default=2048)
    ap.add_argument('--hog-rate', type=int, default=64, help='MiB/s')
    args = ap.parse_args()
    args.only = [c.strip() for c in args.only.split(',') if c.strip()]
    if bad := [c for c in args.only if c not in CONTENDERS]:
        ap.error(f'unknown contender(s) {bad}; known: {", ".join(CONTENDERS)}')
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(130))

    build(args.kver)
    sweep()
    stamp = time.strftime('%Y%m%d-%H%M%S')
    OUT.mkdir(exist_ok=True)
    raw = OUT / f'bench-recovery-{args.kver}-{stamp}.json'
    logdir = OUT / f'bench-recovery-{args.kver}-{stamp}'
    logdir.mkdir()
    have_agent = agent_available()
    records = []
    for n in range(1, args.runs + 1):
        for c in args.only:
            if c in AGENTS and not have_agent:
                if n == 1:
                    print('gpufas: skipped: agent not available (./gpufas --help names no '
                          '--agent)', file=sys.stderr, flush=True)
                records.append({'contender': c, 'run': n,
                                'skipped': 'skipped: agent not available'})
                continue
            print(f'run {n}/{args.runs}: {c} ...', file=sys.stderr, flush=True)
            rec = one_run(c, n, args, logdir)
            records.append(rec)
            print(f'  {rec["outcome"]}: hog start→death {rec["hog_start_to_death_s"]}, '
                  f'threshold→death {rec["threshold_to_death_s"]}, heartbeat gap '
                  f'{rec["heartbeat_max_gap_s"]}, lost {rec["lost"] or "none"}, '
                  f'killed by {rec.get("killers")}'
                  + (f'\n  {rec["error"]}' if 'error' in rec else ''),
                  file=sys.stderr, flush=True)
            raw.write_text(json.dumps(records, indent=1))  # kept current: a long run may die
    raw.write_text(json.dumps(records, indent=1))
    cpu = subprocess.run(['sh', '-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    print(f'machine: {cpu}, {os.cpu_count()} cores; guest: Debian {args.kver} cloud, 512 MiB, '
          f'2 vCPUs, TCG, ext4 root and {SWAP_MIB} MiB swap on virtio disks at 8 MB/s; '
          f'hog {args.hog_mib} MiB at {args.hog_rate} MiB/s; threshold MemAvailable < '
          f'{args.pct:g} % of MemTotal; {args.runs} runs each; median (min–max)\n')
    print(table(records, args))
    print(f'\nraw: {raw.relative_to(TOP)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
