#!/usr/bin/env python3
"""make bench: attach and snapshot times on a live guest with 1 000 threads;
with --gpu (on the GPU machine, through test/gpu-test.sh) the GPU engine.

Boots the Debian 6.12 test guest (512 MiB, 2 vCPUs, TCG) with a sleeper of
1 000 threads and as many processes as this machine has, then measures on
this machine, in one run:
  - gpufas in-process (test/bench): attach cold (full discovery) and warm
    (from the cached profile), one full snapshot of every thread / process;
  - the whole `gpufas --ps` command, process start included, warm (the
    profile kept) and cold (--no-cache), and the baseline: procps
    `ps -e -o pid,ppid,stat,rss,nlwp,time,comm` on this machine's own
    /proc, with a host process of 1 000 threads running; the three
    interleaved run by run, so that a busy moment costs each the same.
Prints a Markdown table (min / median / max over the runs) for the README,
and each whole command's median against ps's.

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
import tempfile
import time
from pathlib import Path

from guest import Guest

TOP = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get('BENCH_RUNS', '50'))
PS_COLUMNS = 'pid,ppid,stat,rss,nlwp,time,comm'


def wall_ms(commands, runs, env=None):
    """Each command's times from exec to exit, the commands taking turns."""
    times = [[] for _ in commands]
    for _ in range(runs):
        for argv, t in zip(commands, times):
            t0 = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=env)
            t.append((time.perf_counter() - t0) * 1e3)
    return times


def host_processes():
    return subprocess.run(['ps', '-e', '--no-headers'], capture_output=True,
                          text=True).stdout.count('\n')


def row(name, times, tasks=''):
    times = sorted(times)
    return (f'| {name} | {tasks} | {times[0]:.3f} | {statistics.median(times):.3f} '
            f'| {times[-1]:.3f} |')


def in_process(target, env):
    """test/bench's CPU measures by name: (min, median, max, tasks)."""
    return {name: (lo, med, hi, tasks)
            for name, lo, med, hi, tasks in bench_lines('--runs', str(RUNS), target, env=env)}


def host_threads_process(n):
    """A process of n sleeping threads on this machine, for the baseline."""
    exe = TOP / 'test/out/sleeper-host'
    exe.parent.mkdir(exist_ok=True)
    subprocess.run(['gcc', '-O2', '-pthread', '-o', str(exe), str(TOP / 'test/guest/sleeper.c')],
                   check=True)
    p = subprocess.Popen([str(exe), str(n)], stdout=subprocess.PIPE, text=True)
    p.stdout.readline()  # "sleeper ready pid=..."
    return p


def bench_lines(*args, env=None):
    """test/bench's output: measure lines parsed, other lines printed."""
    out = subprocess.run([str(TOP / 'test/bench'), *args], check=True,
                         capture_output=True, text=True, env=env).stdout
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
    cache = tempfile.mkdtemp(prefix='gpufas-bench-')
    env = dict(os.environ, GPUFAS_CACHE=cache)  # the profile: kept by the first attach
    host = host_threads_process(1000)
    try:
        with Guest('6.12') as g:
            g.boot()
            g.wait_ready(g.spawn('sleeper 1000'), timeout=120)
            more = host_processes() - len(g.procs())
            g.check(f'i=0; while [ $i -lt {more} ]; do sleep 100000 & i=$((i+1)); done')
            time.sleep(2)  # let the guest settle: its vCPUs idle, as a hung box's would not
            target = f'vm:{g.ram_path}'
            rows = in_process(target, env)
            ps = [str(TOP / 'gpufas'), '--target', target, '--ps']
            warm, cold, base = wall_ms([ps, ps + ['--no-cache'], ['ps', '-e', '-o', PS_COLUMNS]],
                                       RUNS, env)
            ntasks = rows['cpu snapshot processes'][3]
            host_tasks = host_processes()
    finally:
        host.kill()
        shutil.rmtree(cache, ignore_errors=True)
    cpu = subprocess.run(['sh', '-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    print(f'machine: {cpu}, {os.cpu_count()} cores; guest: Debian 6.12, 512 MiB, 2 vCPUs, TCG; '
          f'{RUNS} runs each\n')
    print('| measure | tasks | min ms | median ms | max ms |\n|---|---|---|---|---|')
    for name in ('attach cold', 'attach warm', 'cpu snapshot threads', 'cpu snapshot processes'):
        lo, med, hi, tasks = rows[name]
        print(f'| gpufas {name} (in-process) | {tasks} | {lo:.3f} | {med:.3f} | {hi:.3f} |')
    print(row('`gpufas --ps` warm (whole command, profile)', warm, ntasks))
    print(row('`gpufas --ps --no-cache` cold (whole command)', cold, ntasks))
    print(row('baseline: `ps -e` on this machine\'s /proc', base, host_tasks))
    b = statistics.median(base)
    for name, t in (('warm', warm), ('cold', cold)):
        m = statistics.median(t)
        print(f'\n`gpufas --ps` {name}: {m:.1f} ms, ps {b:.1f} ms: {m / b:.2f} of ps\'s time '
              f'({"faster" if m < b else "slower"}, {max(b / m, m / b):.1f}x)', end='')
    print()
    dashboard_cost()
    return 0


if __name__ == '__main__':
    sys.exit(main())
