#!/usr/bin/env python3
"""make bench: attach and snapshot times on a live guest with 1 000 threads;
with --gpu (on the GPU machine, through test/gpu-test.sh) the GPU engine.

Boots the Debian 6.12 test guest (512 MiB, 2 vCPUs, TCG) with a sleeper of
1 000 threads, then measures on this machine, in one run:
  - gpufas in-process (test/bench): attach (kernel discovery from raw RAM)
    and one full snapshot of every thread / every process;
  - the whole `gpufas --ps --threads` command, process start included;
  - the baseline: procps `ps -eL` listing the same columns from this
    machine's own /proc, with a host process of 1 000 threads running.
Prints a Markdown table (min / median / max over the runs) for the README.

Then the dashboard's cost (test/bench_tui, also alone with --dashboard): the real
tui_run on a synthetic source of 1 000 processes, at its 10 Hz, in a tmux pane of
120x40 for 30 s; the CPU time it used, from getrusage, as a share of one core.

--gpu, in one run on the GPU machine: CPU vs GPU engine snapshots of a
2 GiB guest with 1 000 and then 10 000 threads; the GPU running the watch
loop by itself on it (steps a second: 10 keeps 10 Hz) and the host CPU that
costs; and one GPU monitor running the watch loops of N raw copies of a
1 GiB guest's RAM with 1 000 threads at once.
"""
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from guest import Guest

TOP = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get('BENCH_RUNS', '50'))
PS_COLUMNS = 'pid,tid,ppid,stat,rss,nlwp,time,comm'


def wall_ms(argv, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def row(name, times, tasks=''):
    times = sorted(times)
    return (f'| {name} | {tasks} | {times[0]:.3f} | {statistics.median(times):.3f} '
            f'| {times[-1]:.3f} |')


def in_process(target):
    """test/bench's CPU measures by name: (min, median, max, tasks)."""
    return {name: (lo, med, hi, tasks)
            for name, lo, med, hi, tasks in bench_lines('--runs', str(RUNS), target)}


def host_threads_process(n):
    """A process of n sleeping threads on this machine, for the baseline."""
    exe = TOP / 'test/out/sleeper-host'
    exe.parent.mkdir(exist_ok=True)
    subprocess.run(['gcc', '-O2', '-pthread', '-o', str(exe), str(TOP / 'test/guest/sleeper.c')],
                   check=True)
    p = subprocess.Popen([str(exe), str(n)], stdout=subprocess.PIPE, text=True)
    p.stdout.readline()  # "sleeper ready pid=..."
    return p


def bench_lines(*args):
    """test/bench's output: measure lines parsed, other lines printed."""
    out = subprocess.run([str(TOP / 'test/bench'), *args], check=True,
                         capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        if ' runs ' not in line:
            print(line)
            continue
        name, rest = line.split(' runs ')
        f = rest.split()
        rows.append((name.strip(), float(f[2]), float(f[4]), float(f[6]),
                     f[9] if len(f) > 9 else ''))
    return rows


def print_rows(rows):
    for name, lo, med, hi, tasks in rows:
        print(f'| {name} | {tasks} | {lo:.3f} | {med:.3f} | {hi:.3f} |')


def gpu_main():
    print('| measure | tasks | min ms | median ms | max ms |\n|---|---|---|---|---|')
    with Guest('6.12', mem_mib=2048) as g:
        g.boot(timeout=180)
        target = f'vm:{g.ram_path}'
        g.wait_ready(g.spawn('sleeper 1000'), timeout=300)
        time.sleep(2)
        print_rows(bench_lines('--gpu', '--runs', str(RUNS), target))
        bench_lines('--monitor', '10', target)
        g.wait_ready(g.spawn('sleeper 9000'), timeout=600)
        time.sleep(2)
        print_rows(bench_lines('--gpu', '--runs', str(RUNS), target))
        bench_lines('--monitor', '10', target)
    with Guest('6.12', mem_mib=1024) as g:
        g.boot(timeout=180)
        g.wait_ready(g.spawn('sleeper 1000'), timeout=300)
        time.sleep(2)
        copies = []
        try:
            for n in (1, 16, 64):
                while len(copies) < n:
                    copies.append(f'/dev/shm/gpufas-fleet-{os.getpid()}-{len(copies)}.ram')
                    shutil.copyfile(g.ram_path, copies[-1])
                bench_lines('--monitor', '10', *[f'dump:{c}' for c in copies])
        finally:
            for c in copies:
                os.unlink(c)
    return 0


def dashboard_cost(seconds=30):
    """test/bench_tui in a tmux pane of its own server: CPU seconds over wall seconds."""
    result = TOP / 'test/out/bench_tui.txt'
    result.parent.mkdir(exist_ok=True)
    result.unlink(missing_ok=True)
    server = f'gpufas-bench-{os.getpid()}'
    subprocess.run(['tmux', '-L', server, 'new-session', '-d', '-x', '120', '-y', '40',
                    f'LANG=C.UTF-8 {TOP}/test/bench_tui {seconds} {result}'], check=True)
    try:
        deadline = time.monotonic() + seconds + 30
        while not (result.exists() and result.read_text().endswith('\n')) and \
                time.monotonic() < deadline:
            time.sleep(0.5)
        f = result.read_text().split()
    finally:
        subprocess.run(['tmux', '-L', server, 'kill-server'], capture_output=True)
    wall, cpu, ticks, procs = float(f[1]), float(f[3]), int(f[5]), int(f[7])
    print(f'dashboard, {procs} processes, {ticks / wall:.1f} Hz for {wall:.0f} s in tmux '
          f'(120x40): {cpu:.3f} s of CPU, {100 * cpu / wall:.2f} % of one core (goal < 5 %)')


def main():
    if '--gpu' in sys.argv:
        return gpu_main()
    if '--dashboard' in sys.argv:
        return dashboard_cost()
    with Guest('6.12') as g:
        g.boot()
        g.wait_ready(g.spawn('sleeper 1000'), timeout=120)
        time.sleep(2)  # let the guest settle: its vCPUs idle, as a hung box's would not
        target = f'vm:{g.ram_path}'
        rows = in_process(target)
        cmd = wall_ms([str(TOP / 'gpufas'), '--target', target, '--ps', '--threads'], RUNS)
        ntasks = rows['cpu snapshot threads'][3]
    host = host_threads_process(1000)
    try:
        base = wall_ms(['ps', '-eL', '-o', PS_COLUMNS], RUNS)
        host_tasks = int(subprocess.run(['ps', '-eL', '--no-headers'], capture_output=True,
                                        text=True).stdout.count('\n'))
    finally:
        host.kill()
    cpu = subprocess.run(['sh', '-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    print(f'machine: {cpu}, {os.cpu_count()} cores; guest: Debian 6.12, 512 MiB, 2 vCPUs, TCG; '
          f'{RUNS} runs each\n')
    print('| measure | tasks | min ms | median ms | max ms |\n|---|---|---|---|---|')
    for name in ('attach', 'cpu snapshot threads', 'cpu snapshot processes'):
        lo, med, hi, tasks = rows[name]
        print(f'| gpufas {name} (in-process) | {tasks} | {lo:.3f} | {med:.3f} | {hi:.3f} |')
    print(row('`gpufas --ps --threads` (whole command)', cmd, ntasks))
    print(row('baseline: `ps -eL` on this machine\'s /proc', base, host_tasks))
    ratio = statistics.median(base) / rows['cpu snapshot threads'][1]
    print(f'\nsnapshot vs baseline (median): gpufas {ratio:.0f}x faster than ps reading /proc; '
          f'whole command {statistics.median(base) / statistics.median(cmd):.1f}x')
    dashboard_cost()
    return 0


if __name__ == '__main__':
    sys.exit(main())
