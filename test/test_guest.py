#!/usr/bin/env python3
"""gpufas against real Debian kernels in real QEMU guests (TCG, KASLR on).

Each check runs the real ./gpufas binary on a guest's RAM file and compares
its answers with the guest's own /proc, or watches the guest kernel deliver
the signal gpufas wrote. Prints one line per check and, last,
`N passed, N failed, N skipped`. Usage: test/test_guest.py [-k SUBSTRING]
GPUFAS_KVERS="6.1 6.12" runs the kernel checks on those kernels only.

GPUFAS_ENGINE=gpu runs every check with the GPU engine (on a machine with
an NVIDIA GPU, see test/gpu-test.sh) and adds the CPU-vs-GPU comparison.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from checks import Skip, check
from guest import Guest, KVERS
import checks

TOP = Path(__file__).resolve().parent.parent
GPUFAS = os.environ.get('GPUFAS', str(TOP / 'gpufas'))  # e.g. ./gpufas-asan
TMP = None  # a scratch directory, made by main()
ENGINE = os.environ.get('GPUFAS_ENGINE')
# Every live check runs on each kernel of KVERS (Debian's 5.10 to 7.2), or of GPUFAS_KVERS where
# that names fewer (the GPU kit carries two); the dump checks on the oldest, the newest and
# bookworm's 6.12, whose dumps the GPU engine is compared on.
RUN_KVERS = [k for k in KVERS if k in os.environ.get('GPUFAS_KVERS', ' '.join(KVERS)).split()]
DUMP_KVERS = {RUN_KVERS[0], '6.12', RUN_KVERS[-1]} if RUN_KVERS else set()

def gpufas(*args, timeout=30, engine=ENGINE, cache=None):
    """Runs ./gpufas; returns (exit code, stdout, stderr). Its profile cache is this run's
    (TMP/cache), or `cache`: every check after a kernel's first attach reads its profile."""
    argv = [GPUFAS, *args] + (['--engine', engine] if engine else [])
    env = dict(os.environ, GPUFAS_CACHE=str(cache or TMP / 'cache'))
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def gpufas_json(*args, engine=ENGINE, cache=None):
    rc, out, err = gpufas(*args, '--json', engine=engine, cache=cache)
    assert rc == 0, f'gpufas {" ".join(args)} exited {rc}: {err.strip()}'
    return json.loads(out)


def errors(stderr):
    """stderr's lines but notes: with --engine auto and no GPU, a note says
    the CPU engine is used."""
    return [line for line in stderr.strip().splitlines() if 'gpufas: note:' not in line]


def expect_error(args, needle, timeout=30):
    """A clear one-line error on stderr, an exit code in 1..127, in time."""
    rc, out, err = gpufas(*args, timeout=timeout)
    lines = errors(err)
    assert 0 < rc < 128, f'exit {rc} for {args}: {err.strip()}'
    assert len(lines) == 1, f'want one stderr line for {args}, got {lines}'
    assert needle.lower() in lines[0].lower(), f'{needle!r} not in {lines[0]!r}'


def by_pid(procs):
    return {p['pid']: p for p in procs}


# ---- ps, info, kill on one live guest --------------------------------------------------------

def check_info(g):
    info = gpufas_json('--target', f'vm:{g.ram_path}', '--info')
    assert info['release'] == g.check('uname -r'), info
    assert int(info['kaslr_offset'], 16) != 0, 'KASLR is on in the guest, offset is 0'
    assert info['cpus'] == int(g.check('nproc')), info
    memtotal_kb = int(g.check("grep MemTotal /proc/meminfo").split()[1])
    assert abs(info['ram_bytes'] // 1024 - memtotal_kb) <= memtotal_kb // 50, info
    assert info['layout'] in ('btf', 'profile-cache'), info


def notes(stderr):
    return [line for line in stderr.splitlines() if 'gpufas: note:' in line and 'engine' not in line]


def check_profile_cache(g):
    """The first attach to a build discovers in full and keeps a profile (mode 0600, named by
    the build id); the second uses it, with the same answers; --no-cache does not; a corrupt
    profile is refused in one note and a stale one caught by its memory checks, each followed
    by full discovery (which writes a good profile again)."""
    cache = TMP / f'cache-{g.kver}'
    target = ['--target', f'vm:{g.ram_path}', '--info', '--json']

    def info(*extra):
        rc, out, err = gpufas(*target, *extra, cache=cache)
        assert rc == 0, err
        return json.loads(out), notes(err)
    cold, n = info()
    assert cold['layout'] == 'btf' and not n, (cold, n)
    files = list((cache / 'profiles').iterdir())
    assert len(files) == 1 and files[0].suffix == '.profile', files
    assert files[0].stat().st_mode & 0o777 == 0o600
    text = files[0].read_text()
    assert text.startswith('gpufas-profile 2\n') and f'release = {cold["release"]}\n' in text
    warm, n = info()
    assert warm['layout'] == 'profile-cache' and not n, (warm, n)
    same = ('release', 'kaslr_offset', 'cpus', 'ram_bytes', 'symbols', 'metrics', 'kernel_log')
    assert all(warm[k] == cold[k] for k in same), (cold, warm)
    print(f'      attach: cold {cold["attach_ms"]:.1f} ms, with the profile '
          f'{warm["attach_ms"]:.1f} ms')
    assert info('--no-cache')[0]['layout'] == 'btf'
    files[0].write_text(text.replace('end\n', 'field x = y\nend\n'))
    again, n = info()
    assert again['layout'] == 'btf' and len(n) == 1 and 'refused' in n[0], n
    assert info()[0]['layout'] == 'profile-cache', 'the refused profile was not replaced'
    comm = next(line for line in text.splitlines() if line.startswith('field task_struct.comm '))
    key, _, value = comm.rpartition(' ')
    files[0].write_text(text.replace(comm + '\n', f'{key} {int(value) + 1}\n'))
    again, n = info()
    assert again['layout'] == 'btf' and len(n) == 1 and 'full discovery' in n[0], n
    files[0].write_text(text.replace(comm + '\n', f'{key} {int(value) + 1}\n'))
    attach = agent_attach(g, cache)
    assert 'full discovery' in attach.get('note', ''), attach


def agent_attach(g, cache):
    """The headless agent's attach event on g, the agent then stopped."""
    argv = [GPUFAS, '--agent', '--headless', '--target', f'vm:{g.ram_path}',
            '--config', '/dev/null'] + (['--engine', ENGINE] if ENGINE else [])
    env = dict(os.environ, GPUFAS_CACHE=str(cache))
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True, env=env) as p:
        timer = threading.Timer(30, p.kill)  # no event in 30 s: a failed check
        timer.start()
        try:
            line = p.stdout.readline()
        finally:
            timer.cancel()
            p.terminate()
    assert line, 'the agent printed no event in 30 s'
    return json.loads(line)


def rss_close(mine, truth):
    return abs(mine - truth) <= max(64, truth // 20)


def check_ps(g):
    """Every process present in /proc before and after gpufas's snapshot is
    in it, with the same comm, ppid, threads, kthread mark and RSS close."""
    before = by_pid(g.procs())
    mine = by_pid(gpufas_json('--target', f'vm:{g.ram_path}', '--ps'))
    after = by_pid(g.procs())
    stable = [p for p in before if p in after and before[p]['tgid'] == p]
    assert len(stable) > 20, f'only {len(stable)} stable processes'
    for pid in stable:
        truth = before[pid]
        assert pid in mine, f'pid {pid} ({truth["comm"]}) missing'
        m = mine[pid]
        for key in ('tgid', 'ppid', 'threads', 'kthread'):
            assert m[key] == truth[key], f'pid {pid} {key}: {m[key]} vs /proc {truth[key]}'
        # for kernel threads /proc shows more than task->comm: a kworker's
        # workqueue ("kworker/0:0-rcu_gp"), a long name in full
        assert m['comm'] == truth['comm'] or (
            truth['kthread'] and truth['comm'].startswith(m['comm'])), \
            f'pid {pid} comm: {m["comm"]} vs /proc {truth["comm"]}'
        if not truth['kthread']:
            assert rss_close(m['rss_kb'], truth['rss_kb']), \
                f'pid {pid} rss {m["rss_kb"]} vs VmRSS {truth["rss_kb"]}'
    for pid in mine:
        assert pid in before or pid in after, f'gpufas lists pid {pid}, /proc never did'
    assert all(p['pid'] == p['tgid'] for p in mine.values())


def check_threads(g, spinner):
    threads = gpufas_json('--target', f'vm:{g.ram_path}', '--ps', '--threads')
    mine = sorted(t['pid'] for t in threads if t['tgid'] == spinner)
    truth = sorted(int(x) for x in g.check(f'ls /proc/{spinner}/task').split())
    assert mine == truth, f'threads {mine} vs /proc {truth}'
    assert all(t['state'] == 'R' or t['state'] == 'S' for t in threads if t['tgid'] == spinner)


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        time.sleep(0.2)


def check_kill_spinner(g):
    """SIGKILL of a 4-thread spinner: the guest kernel ends every thread and
    the parent sees death by signal 9 (exit status 137)."""
    g.spawn("sh -c 'spinner 4; echo status=$? >/tmp/spinner.status'")
    wait_for(lambda: g.sh('pidof spinner')[0] == 0, 30, 'spinner to start')
    pid = int(g.check('pidof spinner'))
    rc, out, err = gpufas('--target', f'vm:{g.ram_path}', '--kill', str(pid))
    assert rc == 0 and '4 threads' in out, f'{rc} {out} {err}'
    wait_for(lambda: g.sh('cat /tmp/spinner.status')[0] == 0, 30, 'spinner to die')
    assert g.check('cat /tmp/spinner.status') == 'status=137'


def check_usr1(g):
    """SIGUSR1 runs the process's handler, and the process lives on."""
    pid = g.spawn('sigcatch')
    g.wait_ready(pid)
    rc, out, err = gpufas('--target', f'vm:{g.ram_path}', '--kill', str(pid), '--signal', 'USR1')
    assert rc == 0, f'{rc} {out} {err}'
    wait_for(lambda: 'count=1' in g.sh('cat /tmp/sigcatch.log')[1], 30, 'the handler')
    assert g.alive(pid)
    g.check(f'kill {pid}')


def check_refusals(g):
    sleeper = g.spawn('sleeper')
    g.wait_ready(sleeper)
    target = f'vm:{g.ram_path}'
    expect_error(['--target', target, '--kill', '1'], 'pid 1')
    expect_error(['--target', target, '--kill', '2'], 'kernel thread')
    expect_error(['--target', target, '--kill', '99999'], 'no such process')
    expect_error(['--target', target, '--kill', str(sleeper), '--signal', 'CONT'], 'SIGCONT')
    rc, out, _ = gpufas('--target', target, '--kill', str(sleeper), '--dry-run')
    assert rc == 0 and 'would send SIGKILL' in out, out
    time.sleep(1)
    assert g.alive(sleeper) and g.alive(1), 'a refused or dry-run kill hurt a process'
    g.check(f'kill {sleeper}')


def live_guest_checks(kver):
    with Guest(kver) as g:
        g.boot()
        for prog in ('spinner 2', 'sleeper 3', 'hog 32'):
            g.wait_ready(g.spawn(prog))
        spinner = int(g.check('pidof spinner'))
        check(f'{kver} info', check_info, g)
        check(f'{kver} profile cache', check_profile_cache, g)
        check(f'{kver} ps matches /proc', check_ps, g)
        check(f'{kver} ps --threads', check_threads, g, spinner)
        g.check(f'kill {spinner}')
        check(f'{kver} SIGKILL 4-thread spinner', check_kill_spinner, g)
        check(f'{kver} SIGUSR1 runs handler', check_usr1, g)
        check(f'{kver} refuses pid 1, kthreads, unknown', check_refusals, g)
        if kver in DUMP_KVERS:
            dump_checks(g)


# ---- dumps: ELF cores and raw copies --------------------------------------------------------

def dump_checks(g):
    core, raw = TMP / 'guest.core', TMP / 'guest.raw'
    k = g.kver
    g.dump(str(core))
    shutil.copyfile(g.ram_path, raw)
    check(f'{k} ELF core: ps equals live', check_dump_ps, g, f'dump:{core}')
    check(f'{k} raw copy: ps equals live', check_dump_ps, g, f'dump:{raw}')
    check(f'{k} CPU and GPU engines agree on a frozen dump', check_engines_agree, f'dump:{raw}')
    check(f'{k} dump is read-only', expect_error,
          ['--target', f'dump:{raw}', '--kill', g.check('pidof sleeper').split()[0]], 'read-only')
    check(f'{k} corrupted RAM never crashes', check_corruption, raw)
    check(f'{k} truncated core', expect_error, ['--target', f'dump:{truncated(core)}', '--ps'], 'ELF')
    core.unlink()
    raw.unlink()


def check_dump_ps(g, target):
    dump = {p['pid']: p['comm'] for p in gpufas_json('--target', target, '--ps')}
    live = {p['pid']: p['comm'] for p in gpufas_json('--target', f'vm:{g.ram_path}', '--ps')}
    user = {pid: comm for pid, comm in live.items() if comm in ('sleeper', 'hog', 'sh')}
    assert user and all(dump.get(pid) == comm for pid, comm in user.items()), (dump, user)


def check_engines_agree(target):
    if ENGINE != 'gpu':
        raise Skip('no GPU engine here: test/gpu-test.sh runs this on the GPU machine')
    for args in (['--ps'], ['--ps', '--threads']):
        cpu = gpufas_json('--target', target, *args, engine='cpu')
        gpu = gpufas_json('--target', target, *args, engine='gpu')
        assert cpu == gpu, f'{args}: the engines differ'
    info = gpufas_json('--target', target, '--info', engine='gpu')
    assert info['engine'].startswith('GPU'), info


def truncated(core):
    out = TMP / 'truncated.core'
    with open(core, 'rb') as f, open(out, 'wb') as o:
        o.write(f.read(1 << 20))
    return out


def check_corruption(raw):
    """Random bytes sprayed over a real kernel's RAM: gpufas answers or says
    why not, every time, never crashes or hangs."""
    rng = random.Random(1)
    size = os.path.getsize(raw)
    bad = TMP / 'corrupt.raw'
    outcomes = {}
    for trial in range(12):
        shutil.copyfile(raw, bad)
        with open(bad, 'r+b') as f:
            for _ in range(20000 * (trial + 1)):
                f.seek(rng.randrange(0, size - 64))
                f.write(rng.randbytes(64))
        rc, _, err = gpufas('--target', f'dump:{bad}', '--ps', timeout=60)
        assert rc in (0, 1), f'trial {trial}: exit {rc}: {err}'
        assert rc == 0 or len(errors(err)) == 1, err
        outcomes[rc] = outcomes.get(rc, 0) + 1
    bad.unlink()
    print(f'      corruption outcomes (exit code: trials): {outcomes}')


# ---- a 4 GiB guest: RAM above 4 GiB ---------------------------------------------------------

def check_big_guest():
    with Guest('6.12', mem_mib=4096) as g:
        g.boot(timeout=180)
        pid = g.spawn('hog 64')
        g.wait_ready(pid, timeout=120)
        info = gpufas_json('--target', f'vm:{g.ram_path}', '--info')
        assert info['ram_bytes'] > 3 << 30, info
        mine = by_pid(gpufas_json('--target', f'vm:{g.ram_path}', '--ps'))
        truth = by_pid(g.procs())
        assert mine[pid]['comm'] == 'hog' and rss_close(mine[pid]['rss_kb'], truth[pid]['rss_kb'])
        rc, out, err = gpufas('--target', f'vm:{g.ram_path}', '--kill', str(pid))
        assert rc == 0, err
        wait_for(lambda: not g.alive(pid), 60, 'hog to die')


# ---- bad input ------------------------------------------------------------------------------

def check_bad_inputs():
    rnd = TMP / 'random.bin'
    rnd.write_bytes(random.Random(2).randbytes(8 << 20))
    zeros = TMP / 'zeros.ram'
    with open(zeros, 'wb') as f:
        f.truncate(64 << 20)
    cfg = TMP / 'bad.ini'
    cfg.write_text('[kill]\nsignal = NOPE\n')
    cases = [
        (['--target', 'vm:/nonexistent/ram', '--ps'], 'No such file'),
        (['--target', f'vm:{rnd}', '--ps'], 'no Linux kernel'),
        (['--target', f'dump:{rnd}', '--info'], 'no Linux kernel'),
        (['--target', f'vm:{zeros}', '--ps'], 'still booting'),
        (['--target', f'vm:{TMP}', '--ps'], 'not a file'),
        (['--target', 'floppy:/dev/fd0', '--ps'], 'unknown target'),
        (['--target', f'vm:{rnd},machine=mac', '--ps'], 'option'),
        (['--target', f'vm:{rnd}', '--kill', 'abc'], 'pid'),
        (['--target', f'vm:{rnd}', '--kill', '-5'], 'pid'),
        (['--target', f'vm:{rnd}', '--kill', '7', '--signal', 'FOO'], 'signal'),
        (['--config', '/nonexistent.ini', '--ps'], 'nonexistent.ini'),
        (['--config', str(cfg), '--target', f'vm:{rnd}', '--ps'], 'line 2'),
        (['--ps'], 'no target'),
        (['--bogus'], 'unrecognized'),
    ]
    for args, needle in cases:
        expect_error(args, needle)


def check_booting_guest():
    """While a guest boots, every look at it either works or says the kernel
    is not there yet; none crashes or hangs."""
    g = Guest('6.1')
    try:
        g._ensure_built()
        g._start_qemu()
        outcomes = {}
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            if not os.path.exists(g.ram_path):
                continue
            rc, _, err = gpufas('--target', f'vm:{g.ram_path}', '--ps')
            assert rc in (0, 1), f'exit {rc}: {err}'
            outcomes[rc] = outcomes.get(rc, 0) + 1
            if rc == 0 and outcomes.get(1):
                break
        assert outcomes.get(1), 'never saw the kernel missing: booted too fast to test?'
        print(f'      during boot (exit code: looks): {outcomes}')
    finally:
        g.close()


def main():
    global TMP
    checks.parse_args()
    assert os.access(GPUFAS, os.X_OK), 'build ./gpufas first (make)'
    TMP = Path(tempfile.mkdtemp(prefix='gpufas-test-'))
    try:
        check('bad inputs', check_bad_inputs)
        check('guest still booting', check_booting_guest)
        for kver in RUN_KVERS:
            live_guest_checks(kver)
        check('4 GiB guest (RAM above 4 GiB)', check_big_guest)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    return checks.summary()


if __name__ == '__main__':
    sys.exit(main())
