#!/usr/bin/env python3
"""make bench-signals: the GPUfas paper's mass-kill table. How long N processes that sleep
between short bursts take to die, from the kill request to the last one gone, by three ways:

  pseudo   gpufas --kill PID,PID,... from outside, the guest without the in-OS helper: the
           pseudo-signal, which each victim takes when it next wakes;
  helper   the same command with kmod/gpufas_helper.ko loaded: one batch to the helper, which
           has the guest kernel send each SIGKILL (waking every sleeper);
  killall  busybox `killall -9 burst-child` typed into the guest's shell (Debian's busybox has
           no pkill; killall walks /proc the same way): the in-OS path the paper compares with.

The guest: Debian 6.12 cloud kernel, 1 GiB, 2 vCPUs, TCG, on this machine. The victims:
test/guest/burst.c, N children each looping "sleep S, then spin 100 us". Every cell is one
run: burst starts, gpufas's --ps sees all N children, the kill starts (the clock starts when
gpufas is started, or when the killall line is sent to the console), and the clock stops when
the console shows burst's "all N dead", printed as it reaps the last child. Each way has a
guest of its own (the helper's with the module loaded); a cell that fails (N victims that the
guest cannot even start, under TCG) is reported as such, and the guest is booted afresh for
the next one.

Beside the killall cells, `killall -0 burst-child` (the same walk of /proc, nothing sent) is
timed from the shell among the same victims: the in-OS walk that the issue's goal (50 ms plus
that walk) allows for. A cell whose last victim is not dead --limit seconds past S is given up
on (shown as "> T s"); the rest are then killed through gpufas.

Prints a Markdown table and writes the raw figures to test/out/bench-signals-STAMP.json.

    python3 test/bench_signals.py [--n 100,1000] [--sleep-ms 1,10,100,1000,10000] [--kver 6.12]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from guest import Guest, GuestError
import test_helper

TOP = Path(__file__).resolve().parent.parent
GPUFAS = os.environ.get('GPUFAS', str(TOP / 'gpufas'))
OUT = TOP / 'test' / 'out'
WAYS = ('pseudo', 'killall', 'helper')
DEAD = re.compile(rb'burst: all (\d+) dead')
READY = re.compile(rb'burst: ready (\d+)')


def gpufas(g, cache, *args):
    env = dict(os.environ, GPUFAS_CACHE=str(cache))
    return subprocess.run([GPUFAS, '--target', f'vm:{g.ram_path}', '--engine', 'cpu', *args],
                          capture_output=True, text=True, timeout=120, env=env)


def children(g, cache):
    p = gpufas(g, cache, '--ps', '--json')
    if p.returncode:
        raise RuntimeError(f'--ps: {p.stderr.strip()}')
    return [t['pid'] for t in json.loads(p.stdout) if t['comm'] == 'burst-child']


def start_burst(g, cache, n, sleep_ms):
    """Starts n victims; returns their pids once gpufas sees every one."""
    mark = g.console_mark()
    g.check(f'burst {n} {sleep_ms * 1000} &')
    g.wait_console(READY, mark, timeout=120)
    deadline = time.monotonic() + 120
    while len(pids := children(g, cache)) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f'{len(pids)} of {n} victims seen')
        time.sleep(0.2)
    return pids


def kill(g, cache, way, pids):
    """Starts the kill; returns (the clock at its start, gpufas's own run time or None)."""
    if way == 'killall':
        t0 = time.monotonic()
        g.console_send('killall -9 burst-child\n')
        return t0, None
    t0 = time.monotonic()
    p = gpufas(g, cache, '--kill', ','.join(map(str, pids)))
    took = time.monotonic() - t0
    expect = 'through the in-OS helper' if way == 'helper' else 'marked in'
    if p.returncode or p.stdout.count(expect) != len(pids):
        raise RuntimeError(f'--kill ({way}): exit {p.returncode}: {p.stderr.strip()[:300]}')
    return t0, took


def walk_ms(g):
    """How long `killall -0 burst-child` (signal 0: the same walk of /proc, nothing sent)
    takes from the shell among the victims: the in-OS walk the goal allows for."""
    t0 = time.monotonic()
    g.sh('killall -0 burst-child', timeout=300)
    return (time.monotonic() - t0) * 1000


def cell(g, cache, way, n, sleep_ms, limit_s):
    """One run; dead_ms None where the last victim was not dead after limit_s (the rest are
    then killed through gpufas, and waited for)."""
    pids = start_burst(g, cache, n, sleep_ms)
    walk = walk_ms(g) if way == 'killall' else None
    mark = g.console_mark()
    t0, took = kill(g, cache, way, pids)
    try:
        m = g.wait_console(DEAD, mark, timeout=sleep_ms / 1000 + limit_s)
        dead_ms = (time.monotonic() - t0) * 1000
    except TimeoutError:
        dead_ms = None
        gpufas(g, cache, '--kill', ','.join(map(str, children(g, cache))))
        m = g.wait_console(DEAD, mark, timeout=sleep_ms / 1000 + 120)
    if int(m[1]) != n:
        raise RuntimeError(f'burst reaped {m[1]} of {n}')
    g.check('wait', timeout=120)  # burst itself, and the shell prompt back
    return {'way': way, 'n': n, 'sleep_ms': sleep_ms, 'dead_ms': dead_ms,
            'command_ms': took * 1000 if took is not None else None, 'walk_ms': walk}


def boot(kver, module, helper):
    """A 1 GiB guest with the helper's module in its initramfs, loaded if helper."""
    g = Guest(kver, mem_mib=1024, extra_initrd=module).boot()
    if helper:
        g.check(f'insmod {test_helper.KO}')
    return g


def table(rows, ns, sleeps):
    by = {(r['way'], r['n'], r['sleep_ms']): r for r in rows}
    head = '| N | way | ' + ' | '.join(f'S = {s} ms' for s in sleeps) + ' |'
    out = [head, '|' + '---|' * (len(sleeps) + 2)]
    for n in ns:
        for way in WAYS:
            cells = []
            for s in sleeps:
                r = by.get((way, n, s))
                cells.append('—' if not r else 'failed' if r.get('error') else
                             f'> {r["limit_s"]:.0f} s' if r['dead_ms'] is None else
                             f'{r["dead_ms"]:.0f}')
            out.append(f'| {n} | {way} | ' + ' | '.join(cells) + ' |')
        cells = [f'{r["walk_ms"]:.0f}' if (r := by.get(('killall', n, s))) and r.get('walk_ms')
                 else '—' for s in sleeps]
        out.append(f'| {n} | killall -0 (the walk alone) | ' + ' | '.join(cells) + ' |')
    return '\n'.join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', default='100,1000')
    ap.add_argument('--sleep-ms', default='1,10,100,1000,10000')
    ap.add_argument('--kver', default='6.12')
    ap.add_argument('--limit', type=float, default=60,
                    help='seconds past S after which a cell is given up on')
    a = ap.parse_args()
    ns = [int(x) for x in a.n.split(',')]
    sleeps = [int(x) for x in a.sleep_ms.split(',')]
    tmp = Path(tempfile.mkdtemp(prefix='gpufas-bench-signals-'))
    cache = tmp / 'cache'
    module = tmp / 'helper.cpio.gz'
    g = Guest(a.kver)
    g._ensure_built()
    test_helper.pack(g, module)
    rows = []
    for way in WAYS:
        g = boot(a.kver, module, way == 'helper')
        try:
            for n in ns:
                for s in sleeps:
                    try:
                        r = cell(g, cache, way, n, s, a.limit)
                    except (GuestError, TimeoutError, RuntimeError) as e:
                        r = {'way': way, 'n': n, 'sleep_ms': s, 'dead_ms': None,
                             'error': f'{type(e).__name__}: {e}'[:500]}
                        g.close()
                        g = boot(a.kver, module, way == 'helper')
                    r['limit_s'] = s / 1000 + a.limit
                    rows.append(r)
                    print(f'{way:8} N={n:5} S={s:6} ms: {json.dumps(r)}', flush=True)
        finally:
            g.close()
    OUT.mkdir(exist_ok=True)
    path = OUT / f'bench-signals-{time.strftime("%Y%m%d-%H%M%S")}.json'
    path.write_text(json.dumps({'kver': a.kver, 'rows': rows}, indent=1))
    print()
    print('ms from the kill request to the last victim dead (one run each), and the time '
          'killall -0 took among the same victims:')
    print(table(rows, ns, sleeps))
    print(f'\nraw figures: {path.relative_to(TOP)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
