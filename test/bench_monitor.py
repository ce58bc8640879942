#!/usr/bin/env python3
"""The autonomous GPU monitor against the CPU engine, side by side in one run (GPU machine,
through test/gpu-test.sh bench), on the Debian 6.12 test guest (512 MiB, 2 vCPUs, TCG):

  - hog recovery with the agent running and with it stopped (SIGSTOP: the host's OS no longer
    schedules it; only the GPU can act): from the memory verdict (the threshold crossed) to the
    hog's death as the agent saw it, and from the hog's start;
  - detection latency of F1-F5 and panic, from onset to verdict, with the watch loop on the GPU
    and on the CPU, both at [agent] interval_ms = INTERVAL (20 by default);
  - a healthy but busy guest at that interval on the GPU: no verdict in 20 s;
  - the host CPU the agent process uses at 10 Hz (utime + stime from /proc), GPU vs CPU engine.

Prints Markdown tables. Usage:
  test/bench_monitor.py [--runs N] [--interval MS] [--window MS] [--parts hog,latency,healthy,cpu]
--window sets [detect] window_ms for the latencies and the healthy guest (500 when not given).
"""
import argparse
import shutil
import signal
import statistics
import time

import test_agent as ta
from guest import Guest

KVER = '6.12'
CLASSES = ('F1', 'F2', 'F3', 'F4', 'F5', 'panic')


def stats(xs):
    return f'{statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})' if xs else 'failed'


def hog_run(frozen):
    """Seconds from the memory verdict to the hog's death, and from the hog's start."""
    with Guest(KVER, mem_mib=512) as g:
        g.boot()
        with ta.Agent(ta.target(g), config='[agent]\nhost_stall_ms = 500\n') as ag:
            ag.wait(lambda e: e['event'] == 'attach', 60, 'attach')
            time.sleep(1)
            if frozen:
                ag.proc.send_signal(signal.SIGSTOP)
            start = time.time()
            hog = g.spawn('hog 4000 100')
            status = g.check(f'wait {hog}; echo $?', timeout=60)
            if frozen:
                ag.proc.send_signal(signal.SIGCONT)
            assert status.splitlines()[-1] == '137', status
            r = ag.wait(lambda e: e['event'] == 'result' and e['pid'] == hog, 15, 'result')
            v = next(e for e in ag.events() if e['event'] == 'verdict'
                     and e['class'] in ('memory', 'thrashing'))
            died = r['time']
            assert ag.stop() == 0
        return died - v['time'], died - start


def hog_recovery(runs):
    print('| agent | runs | verdict -> death s | hog start -> death s |\n|---|---|---|---|')
    ta.ENGINE = 'gpu'
    for frozen in (False, True):
        got = []
        for _ in range(runs):
            try:
                got.append(hog_run(frozen))
            except Exception as e:  # noqa: a failed run is reported, the table goes on
                print(f'<!-- {"frozen" if frozen else "running"}: {e} -->')
        print(f'| GPU engine, agent {"stopped (SIGSTOP)" if frozen else "running"} | '
              f'{len(got)} | {stats([a for a, _ in got])} | {stats([b for _, b in got])} |',
              flush=True)


def detect_config(window):
    return f'[detect]\nwindow_ms = {window}\n' if window else ''


def latencies(runs, interval, window):
    config = ta.REPORT_ONLY + detect_config(window) + f'[agent]\ninterval_ms = {interval}\n'
    print(f'| class | GPU loop ms | CPU loop ms |  (interval {interval} ms, window '
          f'{window or 500} ms, {KVER}, median of {runs})\n|---|---|---|')
    for cls in CLASSES:
        row = []
        for engine in ('gpu', 'cpu'):
            ta.ENGINE = engine
            start, opts = ta.FAULTS[cls]
            got = []
            for _ in range(runs):
                try:
                    got.append(ta.run_fault(KVER, cls, start, append=opts.get('append', ''),
                                            config=config)[1] * 1000)
                except Exception as e:  # noqa
                    print(f'<!-- {cls} {engine}: {e} -->')
            row.append(f'{statistics.median(got):.0f}' if got else 'failed')
        print(f'| {cls} | {row[0]} | {row[1]} |', flush=True)


def healthy(interval, window, seconds=20):
    ta.ENGINE = 'gpu'
    config = detect_config(window) + f'[agent]\ninterval_ms = {interval}\n'
    with Guest(KVER, mem_mib=512) as g:
        g.boot()
        with ta.Agent(ta.target(g), config=config) as ag:
            ag.wait(lambda e: e['event'] == 'attach', 60, 'attach')
            g.wait_ready(g.spawn('healthy'))
            time.sleep(seconds)
            bad = [(e['event'], e.get('class')) for e in ag.events()
                   if e['event'] in ('verdict', 'action')]
            assert ag.stop() == 0
    print(f'healthy busy guest, GPU loop at {interval} ms, window {window or 500} ms, {seconds} s: '
          f'{"no verdict" if not bad else bad}', flush=True)


def cpu_ticks(pid):
    fields = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def host_cpu(seconds=20):
    print('| agent at 10 Hz | host CPU, % of one core |\n|---|---|')
    hz = 100  # USER_HZ
    with Guest(KVER, mem_mib=512) as g:
        g.boot()
        for engine in ('gpu', 'cpu'):
            ta.ENGINE = engine
            with ta.Agent(ta.target(g), config='[agent]\nmetrics_ms = 0\n') as ag:
                ag.wait(lambda e: e['event'] == 'attach', 60, 'attach')
                time.sleep(2)
                t0, c0 = time.monotonic(), cpu_ticks(ag.proc.pid)
                time.sleep(seconds)
                used = (cpu_ticks(ag.proc.pid) - c0) / hz / (time.monotonic() - t0)
                assert ag.stop() == 0
            print(f'| {engine.upper()} engine | {100 * used:.2f} |', flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runs', type=int, default=2)
    ap.add_argument('--interval', type=int, default=20)
    ap.add_argument('--window', type=int, default=0)
    ap.add_argument('--parts', default='hog,latency,healthy,cpu')
    args = ap.parse_args()
    parts = args.parts.split(',')
    try:
        if 'hog' in parts:
            hog_recovery(args.runs)
        if 'latency' in parts:
            latencies(1, args.interval, args.window)
        if 'healthy' in parts:
            healthy(args.interval, args.window)
        if 'cpu' in parts:
            host_cpu()
    finally:
        shutil.rmtree(ta.TMP, ignore_errors=True)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
