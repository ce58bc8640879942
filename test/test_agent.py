#!/usr/bin/env python3
"""The headless agent against real faults in real QEMU guests (Debian 6.1 and 6.12, TCG).

The agent (./gpufas --agent --headless) runs on the host and reads the guest's RAM file; the
faults are real: kernel modules built against Debian's headers of exactly the guest's kernel
(test/faults/, one per SHFH class F1-F6), user-level spinners and memory hogs, and the kernel's
own crash (sysrq c). Each check asserts the class the agent reports, and its culprit where the
fault is a process's; the memory hog must be killed by the signal the agent writes while the
other processes live on. A healthy but busy guest must give no verdict for 60 s. Prints one
line per check and, last, `N passed, N failed, N skipped`.

Usage: test/test_agent.py [-k SUBSTRING]
       test/test_agent.py --latency RUNS [CLASS...]   detection latency per fault class
       test/test_agent.py --pack DIR       the guests' module archives, built here, into DIR
GPUFAS_ENGINE=gpu runs the agent with the GPU engine. GPUFAS_AGENT_KIT=DIR takes the module
archives from DIR (made by --pack) instead of building them: for the GPU machine, which has
neither Debian's packages nor a compiler for the guests' kernels.
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from checks import Skip, check, fail
from guest import PROMPT, Guest
import checks

TOP = Path(__file__).resolve().parent.parent
GPUFAS = os.environ.get('GPUFAS', str(TOP / 'gpufas'))  # e.g. ./gpufas-asan
TMP = Path(tempfile.mkdtemp(prefix='gpufas-agent-'))
ENGINE = os.environ.get('GPUFAS_ENGINE', 'cpu')
KVERS = ('6.1', '6.12')  # the whole suite; the others get the checks that need no module:
# build-kmod.sh cannot build for trixie's and sid's kernels (README, Tests)
OTHER_KVERS = [k for k in ('5.10', '6.12+deb13', '7.2')
               if k in os.environ.get('GPUFAS_KVERS', '5.10 6.12+deb13 7.2').split()]
REPORT_ONLY = '[recover]\nmemory = report\ncpu_overload = report\n'
FAULT_DELAY_MS = 500  # the modules start their fault this long after insmod returns


class Agent:
    """./gpufas --agent --headless on one or more targets, its events in a file."""

    def __init__(self, *targets, config='', args=()):
        n = len(list(TMP.glob('agent-*.jsonl')))
        self.events_path = TMP / f'agent-{n}.jsonl'
        self.config_path = TMP / f'agent-{n}.ini'
        self.config_path.write_text(config)
        argv = [GPUFAS, '--agent', '--headless', '--config', str(self.config_path),
                '--events', str(self.events_path), '--engine', ENGINE, *args]
        for t in targets:
            argv += ['--target', t]
        self.stderr_path = TMP / f'agent-{n}.stderr'
        with open(self.stderr_path, 'w') as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)

    def events(self):
        try:
            text = self.events_path.read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.endswith('}')]

    def wait(self, pred, timeout, what):
        """The first event for which pred(event) holds, waiting up to timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events():
                if pred(e):
                    return e
            if self.proc.poll() is not None:
                raise AssertionError(f'agent exited {self.proc.returncode} waiting for {what}: '
                                     f'{self.stderr_path.read_text().strip()}')
            if time.monotonic() > deadline:
                kinds = [(e['event'], e.get('class')) for e in self.events()
                         if e['event'] != 'metrics']
                raise AssertionError(f'no {what} within {timeout} s; events: {kinds[-12:]}')
            time.sleep(0.1)

    def verdict(self, cls, timeout=30):
        return self.wait(lambda e: e['event'] == 'verdict' and e['class'] == cls, timeout,
                         f'{cls} verdict')

    def stop(self):
        """SIGTERM; returns the exit code (it must stop within 5 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError('the agent did not stop on SIGTERM within 5 s')

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def target(g):
    return f'vm:{g.ram_path}'


def cpio(name, files):
    """A gzipped cpio of {guest path: host path}."""
    root = TMP / f'root-{name}'
    for dst, src in files.items():
        (root / dst.lstrip('/')).parent.mkdir(parents=True, exist_ok=True)
        (root / dst.lstrip('/')).write_bytes(Path(src).read_bytes())
    out = TMP / f'{name}.cpio.gz'
    subprocess.run(f'find . | cpio -o -H newc -R 0:0 --quiet | gzip -1 >{out}', shell=True,
                   cwd=root, check=True)
    return out


def prebuilt(name):
    """The archive `name` from GPUFAS_AGENT_KIT, or None."""
    kit = os.environ.get('GPUFAS_AGENT_KIT')
    path = Path(kit) / name if kit else None
    return path if path and path.exists() else None


def fault_modules(kver):
    """The archive of test/faults/*.ko built for kver's kernel, as /root/fN.ko."""
    out = prebuilt(f'faults-{kver}.cpio.gz') or TMP / f'faults-{kver}.cpio.gz'
    if not out.exists():
        kernel = Guest(kver).kernel
        Guest(kver)._ensure_built()
        built = subprocess.run([str(TOP / 'test' / 'build-faults.sh'), str(kernel)],
                               capture_output=True, text=True)
        assert built.returncode == 0, f'build-faults.sh: {built.stderr.strip()[-500:]}'
        kos = Path(built.stdout.strip().splitlines()[-1])
        cpio(f'faults-{kver}', {f'/root/{ko.name.split("_")[0]}.ko': ko
                                for ko in kos.glob('f*.ko')})
    return out


def zram_modules(kver):
    out = prebuilt(f'zram-{kver}.cpio.gz') or TMP / f'zram-{kver}.cpio.gz'
    if not out.exists():
        kernel = Guest(kver).kernel
        Guest(kver)._ensure_built()
        extra = ['lzo_rle'] if kver == '6.1' else []
        subprocess.run([str(TOP / 'test' / 'guest-modules.sh'), str(kernel), str(out), 'zram',
                        *extra], check=True, capture_output=True)
    return out


def swap_on(g, mib):
    g.check('for m in $(cat /modules/load-order); do insmod /modules/$m.ko; done; '
            f'echo {mib}M >/sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null && '
            'swapon /dev/zram0', timeout=60)


def insmod(g, name, params=''):
    """Loads a fault module; returns the host time its fault starts."""
    g.check(f'insmod /root/{name}.ko delay_ms={FAULT_DELAY_MS} {params}', timeout=60)
    return time.time() + FAULT_DELAY_MS / 1000


# ---- the checks -------------------------------------------------------------------------------

def check_memory_hog(kver):
    """No swap: the hog is killed, a spinner and a sleeper live on, events tell the story."""
    with Guest(kver, mem_mib=512) as g:
        g.boot()
        bystanders = [g.spawn('spinner 1'), g.spawn('sleeper')]
        for pid in bystanders:
            g.wait_ready(pid)
        with Agent(target(g)) as ag:
            ag.wait(lambda e: e['event'] == 'attach', 60, 'attach')
            hog = g.spawn('hog 4000 100')
            v = ag.verdict('memory', 60)
            assert v['culprits'] and v['culprits'][0]['pid'] == hog, v
            assert v['culprits'][0]['comm'] == 'hog', v
            a = ag.wait(lambda e: e['event'] == 'action', 10, 'action')
            assert (a['pid'], a['comm'], a['signal']) == (hog, 'hog', 'SIGKILL'), a
            r = ag.wait(lambda e: e['event'] == 'result', 15, 'result')
            assert r['outcome'] == 'exited', r
            status = g.check(f'wait {hog}; echo $?', timeout=30)
            assert status.splitlines()[-1] == '137', f'hog exit status {status!r}'
            for pid in bystanders:
                assert g.alive(pid), f'bystander {pid} died'
            assert len([e for e in ag.events() if e['event'] == 'action']) == 1
            assert ag.stop() == 0
        last = ag.events()[-1]
        assert last['event'] == 'detach' and 'stops' in last['reason'], last


def run_fault(kver, cls, start, append='', extra=(), config=REPORT_ONLY, modules=True):
    """Boots a guest, starts the agent, lets start(g) cause the fault (it returns the host time
    of the onset); returns (verdict event, seconds from onset to verdict)."""
    initrd = [fault_modules(kver)] if modules else []
    with Guest(kver, mem_mib=512, append=append, extra_initrd=[*initrd, *extra]) as g:
        g.boot()
        with Agent(target(g), config=config) as ag:
            ag.wait(lambda e: e['event'] == 'attach', 60, 'attach')
            time.sleep(1.5)  # a quiet history first: nothing may fire before the fault
            onset = start(g)
            v = ag.verdict(cls, 60)
            early = [e for e in ag.events() if e['event'] == 'verdict' and e['time'] < onset
                     and e['class'] != cls]
            assert not early, f'verdicts before the fault: {early}'
            assert ag.stop() == 0
        return v, v['time'] - onset


def start_f1(g):
    return insmod(g, 'f1')


def start_f2(g):
    g.wait_ready(g.spawn('ticker'))  # switches that a preemptible loop lets happen
    return insmod(g, 'f2')


def start_f3(g):
    g.wait_ready(g.spawn('ticker'))  # switches that stop with preemption off
    return insmod(g, 'f3')


def start_f4(g):
    g.check('insmod /root/f4.ko')
    onset = time.time()
    g.check('for i in $(seq 40); do cat /dev/f4_block >/dev/null & done')
    return onset


def start_f5(g):
    return insmod(g, 'f5')


def start_f6(g):
    swap_on(g, 384)
    g.wait_ready(g.spawn('hog 200'))  # user pages for the kernel's hunger to push out
    return insmod(g, 'f6', 'leave_mib=0 mib=320')  # more than is free: the hog swaps


def start_overload(g):
    g.wait_ready(g.spawn('spinner 2'))
    return time.time()


def start_panic(g):
    g._send('echo c >/proc/sysrq-trigger\n')  # the shell dies with the kernel: no sh()
    return time.time()


FAULTS = {
    'F1': (start_f1, {}),
    'F2': (start_f2, {}),
    'F3': (start_f3, {}),
    'F4': (start_f4, {}),
    'F5': (start_f5, {}),
    'F6': (start_f6, {'extra': 'zram'}),
    'cpu_overload': (start_overload, {}),
    'panic': (start_panic, {'append': 'panic=0'}),
}


def fault(kver, cls, modules=True):
    start, opts = FAULTS[cls]
    extra = [zram_modules(kver)] if opts.get('extra') == 'zram' else []
    return run_fault(kver, cls, start, append=opts.get('append', ''), extra=extra,
                     modules=modules)


def check_fault(kver, cls, modules=True):
    v, latency = fault(kver, cls, modules)
    print(f'      {cls} on {kver}: {latency * 1000:.0f} ms from onset, evidence {v["evidence"]}')
    if cls == 'cpu_overload':
        assert v['culprits'][0]['comm'] == 'spinner', v
    if cls == 'panic':
        assert any('sysrq' in line.lower() for line in v.get('log', [])), v.get('log')


def check_thrashing(kver):
    """Swap with room left and RAM full: the agent kills the hog long before swap fills, which
    is when earlyoom and the OOM killer act."""
    with Guest(kver, mem_mib=512, extra_initrd=[zram_modules(kver)]) as g:
        g.boot()
        swap_on(g, 1024)
        with Agent(target(g)) as ag:
            ag.wait(lambda e: e['event'] == 'attach', 60, 'attach')
            hog = g.spawn('hog 3000 64')
            a = ag.wait(lambda e: e['event'] == 'action', 120, 'action')
            assert a['pid'] == hog and a['class'] in ('thrashing', 'memory'), a
            ag.wait(lambda e: e['event'] == 'result' and e['outcome'] == 'exited', 30, 'exit')
            swap = g.check("grep -E 'SwapTotal|SwapFree' /proc/meminfo")
            print(f'      killed as {a["class"]}; {" ".join(swap.split())}')
            assert ag.stop() == 0


def check_healthy(kver, seconds=60):
    """A busy but healthy guest: no verdict, no action."""
    with Guest(kver, mem_mib=512) as g:
        g.boot()
        with Agent(target(g)) as ag:
            ag.wait(lambda e: e['event'] == 'attach', 60, 'attach')
            g.wait_ready(g.spawn('healthy'))
            time.sleep(seconds)
            bad = [e for e in ag.events() if e['event'] in ('verdict', 'action', 'host_stalled')]
            metrics = [e for e in ag.events() if e['event'] == 'metrics']
            assert not bad, f'verdicts or a stalled host on a healthy guest: {bad}'
            assert len(metrics) >= seconds * 0.8, f'{len(metrics)} metrics lines in {seconds} s'
            busy = max(sum(c['usr'] + c['sys'] for c in m['cpus']) for m in metrics)
            assert busy > 40, f'the guest was not busy ({busy:.0f} % at most)'
            assert ag.stop() == 0


def check_reboot(kver):
    """A reboot moves the kernel (KASLR): the agent lets go, attaches again to the new kernel
    (not to the old one's image, which stays in RAM until overwritten), and recovers."""
    with Guest(kver, mem_mib=512, reboot=True) as g:
        g.boot()
        with Agent(target(g)) as ag:
            first = ag.wait(lambda e: e['event'] == 'attach', 60, 'attach')
            mark = len(g._out)
            g._send('echo b >/proc/sysrq-trigger\n')
            ag.wait(lambda e: e['event'] == 'detach', 30, 'detach')
            again = ag.wait(lambda e: e['event'] == 'attach' and e['time'] > first['time'],
                            90, 'attach after the reboot')
            g._expect(PROMPT, mark, 90)  # the new boot's shell
            time.sleep(1)
            hog = g.spawn('hog 4000 100')
            a = ag.wait(lambda e: e['event'] == 'action', 60, 'action after the reboot')
            assert a['pid'] == hog, a
            assert ag.stop() == 0
        lost = [e for e in ag.events() if e['event'] == 'detach' and 'stops' not in e['reason']]
        assert len(lost) == 1, f'attached to the old kernel\'s image, then lost it: {lost}'
        print(f'      KASLR offset {first["kaslr_offset"]} -> {again["kaslr_offset"]}; '
              f'detached: {lost[0]["reason"]}')


def check_shutdown(kver):
    """The guest goes away (its RAM file with it) and comes back: the agent waits and
    attaches to the new one; a target that is not there yet is reported, not fatal."""
    ram = f'/dev/shm/gpufas-guest-{os.getpid()}-restart.ram'
    with Agent(f'vm:{ram}') as ag:
        ag.wait(lambda e: e['event'] == 'unavailable' and 'No such file' in e['reason'], 10,
                'unavailable')
        for boot in range(2):
            with Guest(kver, mem_mib=512, ram_path=ram) as g:
                g.boot()
                ag.wait(lambda e: e['event'] == 'attach' and
                        sum(x['event'] == 'attach' for x in ag.events()) == boot + 1,
                        60, f'attach to boot {boot + 1}')
            ag.wait(lambda e: e['event'] == 'detach' and
                    sum(x['event'] == 'detach' for x in ag.events()) == boot + 1,
                    10, 'detach after the shutdown')
        attaches = [e for e in ag.events() if e['event'] == 'attach']
        assert len(attaches) == 2, attaches
        assert ag.stop() == 0


def check_frozen_host(kver):
    """The GPU engine's point: the agent's process stopped (SIGSTOP, as an OS that no longer
    schedules it leaves it), the GPU alone kills a memory hog (its parent sees 137, a bystander
    lives) and sees F2 and a panic; after SIGCONT the events file holds every verdict, action
    and result of the stop, in order, none doubled, between host_stalled and host_resumed."""
    if ENGINE != 'gpu':
        raise Skip('the GPU engine only: test/gpu-test.sh runs it on the GPU machine')
    config = '[agent]\nhost_stall_ms = 500\n'
    with Guest(kver, mem_mib=512, append='panic=0', extra_initrd=[fault_modules(kver)]) as g:
        g.boot()
        bystander = g.spawn('sleeper')
        g.wait_ready(bystander)
        with Agent(target(g), config=config) as ag:
            ag.wait(lambda e: e['event'] == 'attach', 60, 'attach')
            time.sleep(1.5)
            ag.proc.send_signal(signal.SIGSTOP)
            stopped = time.time()
            try:
                time.sleep(1)  # past host_stall_ms: the GPU says so
                hog = g.spawn('hog 4000 100')
                status = g.check(f'wait {hog}; echo $?', timeout=60)
                assert status.splitlines()[-1] == '137', f'hog exit status {status!r}'
                assert g.alive(bystander), 'the bystander died'
                f2_onset = start_f2(g)
                time.sleep(2)
                g.check('rmmod f2_loop', timeout=60)
                time.sleep(1)
                panic_onset = start_panic(g)
                time.sleep(1.5)
                assert ag.proc.poll() is None
                frozen = [e for e in ag.events() if e['time'] > stopped]
                assert not frozen, f'the stopped agent wrote {frozen}'
            finally:
                ag.proc.send_signal(signal.SIGCONT)
            ag.wait(lambda e: e['event'] == 'host_resumed', 10, 'host_resumed')
            ev = [e for e in ag.events() if e['event'] not in ('metrics',)]
            kinds = [e['event'] for e in ev]
            first, last = kinds.index('host_stalled'), kinds.index('host_resumed')
            during = ev[first + 1:last]
            times = [e['time'] for e in ev[first:last + 1]]
            assert times == sorted(times), f'out of order: {kinds[first:last + 1]}'
            stall = ev[first]
            assert stopped < stall['time'] < stopped + 1.5, (stopped, stall)
            verdict = next(e for e in during if e['event'] == 'verdict'
                           and e['class'] in ('memory', 'thrashing'))
            assert verdict['culprits'][0]['pid'] == hog, verdict
            actions = [e for e in during if e['event'] == 'action']
            assert len(actions) == 1 and actions[0]['pid'] == hog, actions
            results = [e for e in during if e['event'] == 'result']
            assert results and results[0]['outcome'] == 'exited', results
            f2 = [e for e in during if e['event'] == 'verdict' and e['class'] == 'F2']
            assert f2 and f2[0]['time'] > f2_onset, during
            panic = [e for e in during if e['event'] == 'verdict' and e['class'] == 'panic']
            assert panic and panic[0]['time'] > panic_onset, during
            assert any('sysrq' in line.lower() for line in panic[0].get('log', []))
            print(f'      while stopped: hog killed {actions[0]["time"] - stopped:.2f} s into '
                  f'the stop, F2 after {(f2[0]["time"] - f2_onset) * 1000:.0f} ms, panic after '
                  f'{(panic[0]["time"] - panic_onset) * 1000:.0f} ms; host_resumed after '
                  f'{ev[last]["stalled_ms"] / 1000:.1f} s')
            assert ag.stop() == 0


def key_file(name):
    path = TMP / name
    path.write_text(os.urandom(32).hex() + '\n')
    path.chmod(0o600)
    return path


def check_gpu_mailbox(kver):
    """GRASS's setting: with the agent stopped, test/nic, playing the NIC (the agent's mailbox
    in GPU memory opened through CUDA IPC, written and read with plain copies), is answered by
    the GPU itself: two heartbeats whose steps advance, a board of the stop, a ps; a key the
    agent does not hold gets nothing, and its signal is not written."""
    if ENGINE != 'gpu':
        raise Skip('the GPU engine only: test/gpu-test.sh runs it on the GPU machine')
    key, stranger, mailbox = key_file('operator.key'), key_file('stranger.key'), TMP / 'mailbox'
    config = (f'[agent]\nhost_stall_ms = 500\n[remote]\nkey = {key}\n'
              f'gpu_mailbox = {mailbox}\n')

    def nic(key_path, *op):
        p = subprocess.run([str(TOP / 'test' / 'nic'), '--mailbox', str(mailbox),
                            '--key', str(key_path), *op], capture_output=True, text=True,
                           timeout=30)
        lines = p.stdout.strip().splitlines()
        return p.returncode, json.loads(lines[-1]) if lines else {'stderr': p.stderr}

    with Guest(kver, mem_mib=512) as g:
        g.boot()
        sleeper = g.spawn('sleeper')
        g.wait_ready(sleeper)
        with Agent(target(g), config=config) as ag:
            ag.wait(lambda e: e['event'] == 'attach', 60, 'attach')
            time.sleep(1.5)
            assert mailbox.stat().st_mode & 0o777 == 0o600, oct(mailbox.stat().st_mode)
            ag.proc.send_signal(signal.SIGSTOP)
            stopped = time.time()
            try:
                time.sleep(1)  # past host_stall_ms: the board says so
                rc, beat1 = nic(key, 'heartbeat')
                assert rc == 0, beat1
                time.sleep(0.5)
                rc, beat2 = nic(key, 'heartbeat')
                assert rc == 0 and beat2['steps'] > beat1['steps'], (beat1, beat2)
                assert beat2['seq'] > beat1['seq'], (beat1, beat2)
                rc, board = nic(key, 'snapshot')
                assert rc == 0 and board['host_stalled'] == 1, board
                assert board['nprocs'] > 0 and board['sampled'] > stopped, (stopped, board)
                rc, ps = nic(key, 'ps')
                assert rc == 0 and ps['count'] > 0 and sleeper in ps['pids'], ps
                rc, no = nic(stranger, 'heartbeat')
                assert rc == 3 and no == {'op': 'heartbeat', 'refused': True}, (rc, no)
                rc, no = nic(stranger, 'kill', str(sleeper))
                assert rc == 3 and no.get('refused'), (rc, no)
                assert g.alive(sleeper), 'a stranger\'s signal was written'
                assert ag.proc.poll() is None
            finally:
                ag.proc.send_signal(signal.SIGCONT)
            print(f'      while stopped: steps {beat1["steps"]} -> {beat2["steps"]} in 0.5 s, '
                  f'{ps["count"]} processes, board sampled {board["sampled"] - stopped:.1f} s '
                  f'into the stop')
            assert ag.stop() == 0


def check_bad_config():
    path = TMP / 'bad.ini'
    path.write_text('[recover]\nmemory = sometimes\n')
    p = subprocess.run([GPUFAS, '--agent', '--headless', '--target', 'vm:/nonexistent',
                        '--config', str(path)], capture_output=True, text=True, timeout=10)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 1 and len(lines) == 1 and 'kill, term or report' in lines[0], p


def check_reload():
    """SIGHUP reads the config again; a broken one is refused and the agent goes on."""
    with Agent('vm:/nonexistent', config='[agent]\nmetrics_ms = 1000\n') as ag:
        ag.wait(lambda e: e['event'] == 'unavailable', 10, 'unavailable')
        ag.config_path.write_text('[recover]\nmemory = sometimes\n')
        ag.proc.send_signal(signal.SIGHUP)
        time.sleep(1)
        assert ag.proc.poll() is None, 'the agent died of a bad reload'
        assert 'keeping the running config' in ag.stderr_path.read_text()
        assert ag.stop() == 0


def main():
    checks.parse_args()
    check('agent: a broken config is one clear error', check_bad_config)
    check('agent: SIGHUP reload, a broken config refused', check_reload)
    for kver in KVERS:
        check(f'{kver} agent kills a memory hog, bystanders live', check_memory_hog, kver)
        for cls in FAULTS:
            check(f'{kver} agent reports {cls}', check_fault, kver, cls)
    for kver in OTHER_KVERS:
        check(f'{kver} agent kills a memory hog, bystanders live', check_memory_hog, kver)
        for cls in ('cpu_overload', 'panic'):
            check(f'{kver} agent reports {cls}', check_fault, kver, cls, False)
    check('6.12 agent kills a thrashing hog while swap has room', check_thrashing, '6.12')
    check('6.12 agent re-attaches after a reboot', check_reboot, '6.12')
    check('6.12 agent waits through a shutdown and a new boot', check_shutdown, '6.12')
    check('6.12 healthy busy guest: no verdict in 60 s', check_healthy, '6.12')
    check('6.12 agent stopped: the GPU alone detects and kills', check_frozen_host, '6.12')
    check('6.12 agent stopped: the GPU answers its mailbox, strangers refused',
          check_gpu_mailbox, '6.12')
    return checks.summary()


def latency(runs, classes=('F1', 'F2', 'F3', 'F4', 'F5', 'F6', 'panic')):
    """Detection latency per fault class, from onset to verdict, as a markdown table."""
    print('| class | kernel | runs | median ms | min ms | max ms |\n|---|---|---|---|---|---|')
    for cls in classes:
        for kver in KVERS:
            got = []
            for _ in range(runs):
                try:
                    got.append(fault(kver, cls)[1] * 1000)
                except Exception as e:  # noqa: a failed run is reported, the table goes on
                    print(f'<!-- {cls} {kver}: {e} -->', file=sys.stderr)
            if got:
                print(f'| {cls} | {kver} | {len(got)} | {statistics.median(got):.0f} | '
                      f'{min(got):.0f} | {max(got):.0f} |', flush=True)
            else:
                print(f'| {cls} | {kver} | 0 | failed | | |', flush=True)


def pack(dest):
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for kver in KVERS:
        for archive in (fault_modules(kver), zram_modules(kver)):
            shutil.copy(archive, dest / archive.name)


def run(argv):
    if len(argv) >= 3 and argv[1] == '--latency':
        latency(int(argv[2]), *([argv[3:]] if argv[3:] else []))
        return 0
    if len(argv) == 3 and argv[1] == '--pack':
        pack(argv[2])
        return 0
    try:
        return main()
    except Exception as e:  # a broken bench: one failure line, and the summary
        fail('agent suite', e)
        return checks.summary()


if __name__ == '__main__':
    try:
        sys.exit(run(sys.argv))
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
