#!/usr/bin/env python3
"""The in-OS recovery helper (kmod/gpufas_helper.c) in QEMU guests, driven by gpufas from outside.

Each guest (Debian 6.1 and 6.12 under TCG) boots with kmod/gpufas_helper.ko built against Debian's
headers of exactly its kernel (test/build-kmod.sh) in its initramfs. Without the module, --kill
takes the pseudo-signal path, unchanged. With it, --kill goes through the guest kernel: a
`sleep 600` and a `cat` blocked reading a pipe die within 100 ms of the request (their parent
sees status 137), and so does a spinner the headless agent kills for CPU overload; pid 1, a
kernel thread and a stale start time are refused; garbage written
over the mailbox page from outside (in the RAM file) is ignored and said once in the kernel
log; after rmmod, --kill is back on the pseudo-signal. Prints one line per check and, last,
`N passed, N failed, N skipped`. Usage: test/test_helper.py [-k SUBSTRING]

GPUFAS_ENGINE (default cpu) picks gpufas's engine: test/gpu-test.sh runs the suite with the GPU
engine, whose watch loop posts to the mailbox from the GPU. Where no headers can be fetched
(the GPU machine), GPUFAS_HELPER_KIT names a directory of the guests' archives, made here by
`test/test_helper.py --pack DIR` (test/make-gpu-kit.sh does).
"""
import contextlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from checks import check
from guest import Guest
import checks

TOP = Path(__file__).resolve().parent.parent
GPUFAS = os.environ.get('GPUFAS', str(TOP / 'gpufas'))
ENGINE = os.environ.get('GPUFAS_ENGINE', 'cpu')
KIT = os.environ.get('GPUFAS_HELPER_KIT')
BUILD_KMOD = str(TOP / 'test' / 'build-kmod.sh')
TMP = Path(tempfile.mkdtemp(prefix='gpufas-helper-'))
KO = '/root/gpufas_helper.ko'  # where the module lies in the guest
KVERS = ('6.1', '6.12')
DEATH_S = 0.1  # request to death, with the helper
# struct gfh_mailbox (kmod/gpufas_helper.h): the batch's fields, from rq_magic to the first slot
POLLS_OFFSET = 40
RQ_OFFSET = 48
RQ = struct.Struct('<QIIII')  # rq_magic, rq_count, rq_seq, ans_seq, pad
SLOT = struct.Struct('<QiiiI')  # slot[0]: start_time, pid, sig, result, pad
GFH_RQ_MAGIC = 0x7571657273616667
GFH_CHANGED = 3


def gpufas(g, *args, engine=ENGINE):
    """./gpufas on the guest's RAM; (exit code, stdout, the stderr lines that are not notes)."""
    env = dict(os.environ, GPUFAS_CACHE=str(TMP / 'cache'))
    p = subprocess.run([GPUFAS, '--target', f'vm:{g.ram_path}', '--engine', engine, *args],
                       capture_output=True, text=True, timeout=60, env=env)
    err = [line for line in p.stderr.splitlines() if 'gpufas: note:' not in line]
    return p.returncode, p.stdout.strip(), '\n'.join(err)


def helper_info(g):
    rc, out, err = gpufas(g, '--info', '--json')
    assert rc == 0, f'--info: {rc} {err}'
    return json.loads(out)['helper']


def pack(g, cpio):
    """Writes cpio, a gzipped archive holding the module built for g's kernel at KO."""
    out = subprocess.run([BUILD_KMOD, '--dir', str(TOP / 'kmod'), str(g.kernel)],
                         capture_output=True, text=True)
    assert out.returncode == 0, f'build-kmod.sh: {out.stderr.strip()}'
    root = TMP / f'extra-{g.kver}'
    (root / 'root').mkdir(parents=True)
    shutil.copy(Path(out.stdout.strip()) / 'gpufas_helper.ko', root / KO[1:])
    subprocess.run(f'find . | cpio -o -H newc -R 0:0 --quiet | gzip -1 >{cpio}', shell=True,
                   cwd=root, check=True)
    shutil.rmtree(root)


def extra_initrd(g):
    """Hands g the archive of its module: the kit's, or one built here."""
    if KIT:
        g.extra_initrd = Path(KIT) / f'helper-{g.kver}.cpio.gz'
        return
    g.extra_initrd = TMP / f'extra-{g.kver}.cpio.gz'
    pack(g, g.extra_initrd)


def ps(g):
    """The guest's processes, as the CPU engine sees them: a look that takes milliseconds
    with either engine under test (the GPU engine's own start-up takes longer than DEATH_S)."""
    rc, out, err = gpufas(g, '--ps', '--json', engine='cpu')
    assert rc == 0, f'--ps: {rc} {err}'
    return {p['pid']: p for p in json.loads(out)}


def victim(g, cmd, comm, piped=False):
    """Starts `cmd` under a shell that records its exit status in /tmp/NAME.status, its
    standard input a pipe from `sleep 600` if piped; returns (pid, NAME) once gpufas sees it
    asleep."""
    name = comm + str(random.randrange(1 << 30))
    script = f'{cmd} & echo $! >/tmp/{name}.pid; wait $!; echo $? >/tmp/{name}.status'
    if piped:  # fd 3: an asynchronous command's own stdin is /dev/null (POSIX sh)
        script = f'sleep 600 | (exec 3<&0; {cmd} <&3 & echo $! >/tmp/{name}.pid; ' \
                 f'wait $!; echo $? >/tmp/{name}.status)'
    g.spawn(f"sh -c '{script}'")
    deadline = time.monotonic() + 30
    while g.sh(f'cat /tmp/{name}.pid')[0]:
        assert time.monotonic() < deadline, f'{cmd} did not start'
    pid = int(g.check(f'cat /tmp/{name}.pid'))
    while (p := ps(g).get(pid)) is None or p['state'] != 'S':
        assert time.monotonic() < deadline, f'{cmd}: not asleep: {p}'
        time.sleep(0.1)
    assert p['comm'] == comm, p
    return pid, name


def dead_within(g, pid, seconds):
    """Seconds until pid is gone or a zombie in gpufas's view, or None past `seconds`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        p = ps(g).get(pid)
        if p is None or p['state'] in 'ZX':
            left = time.monotonic() - t0
            return left if left <= seconds else None
    return None


def kill_through_helper(g, cmd, comm, piped=False):
    pid, name = victim(g, cmd, comm, piped)
    t0 = time.monotonic()
    rc, out, err = gpufas(g, '--kill', str(pid))
    took = time.monotonic() - t0
    assert rc == 0 and 'by the guest kernel, through the in-OS helper' in out, (rc, out, err)
    assert 'marked' not in out, out
    left = dead_within(g, pid, DEATH_S)
    assert left is not None, f'{comm} still alive {DEATH_S * 1e3:.0f} ms after the request'
    status = g.check(f'cat /tmp/{name}.status')
    assert status == '137', f'{comm}: parent saw status {status!r}'
    print(f'      {comm}: --kill answered in {took * 1e3:.1f} ms, dead {left * 1e3:.1f} ms later')


# ---- checks ---------------------------------------------------------------------------------

def check_absent(g):
    """No module: --info says so, and --kill is the pseudo-signal, which a sleeper takes only
    when it wakes: still asleep after a second."""
    h = helper_info(g)
    assert not h['found'] and 'not loaded' in h['why'], h
    pid, _ = victim(g, 'sleep 600', 'sleep')
    rc, out, err = gpufas(g, '--kill', str(pid))
    assert rc == 0 and out.startswith(f'SIGKILL marked in {pid} (sleep): 1 threads;'), (out, err)
    assert 'helper' not in out, out
    time.sleep(1)
    assert g.alive(pid), 'the pseudo-signal woke a sleeper'
    print(f'      {out}')


def check_load(g):
    g.check(f'insmod {KO}')
    status, out = g.sh(f'insmod {KO}')
    assert status != 0, 'a second insmod succeeded'
    assert 'polled every 8 ms' in g.check('dmesg | grep gpufas_helper:'), 'no load line'
    h = helper_info(g)
    assert h['found'] and h['version'] == 2 and h['period_ms'] == 8 and h['hz'] == 250, h
    print(f'      second insmod: {out}; mailbox at {h["mailbox"]} ({h["mailbox_phys"]})')
    rate = polls_per_s(g)
    assert rate >= 100, f'{rate:.0f} polls a second: a request waits more than 10 ms'
    print(f'      {rate:.0f} polls a second')


def polls_per_s(g, seconds=2):
    """The helper's polls a second, from its counter in the mailbox (guest time follows this
    machine's under TCG)."""
    f, at = mailbox(g)
    with f:
        def polls():
            f.seek(at + POLLS_OFFSET)
            return struct.unpack('<Q', f.read(8))[0], time.monotonic()
        n0, t0 = polls()
        time.sleep(seconds)
        n1, t1 = polls()
    return (n1 - n0) / (t1 - t0)


HELPER_NOTE = 'in-OS helper gpufas_helper version 2, polled every 8 ms'
AGENT_CONFIG = '[detect]\noverload_ms = 1000\n[recover]\ncpu_overload = kill\n'


def agent_events(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_event(path, pred, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not (found := [e for e in agent_events(path) if pred(e)]):
        assert time.monotonic() < deadline, f'no {what} event: {agent_events(path)}'
        time.sleep(0.1)
    return found[0]


@contextlib.contextmanager
def agent(g, name, extra=''):
    """The headless agent on g, CPU overload recovery on, `extra` added to its config; yields
    (its events file, its attach event)."""
    events, config = TMP / f'{name}-{g.kver}.jsonl', TMP / 'agent.ini'
    config.write_text(AGENT_CONFIG + extra)
    env = dict(os.environ, GPUFAS_CACHE=str(TMP / 'cache'))
    proc = subprocess.Popen([GPUFAS, '--agent', '--headless', '--engine', ENGINE, '--config',
                             str(config), '--target', f'vm:{g.ram_path}', '--events',
                             str(events)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        yield events, wait_event(events, lambda e: e['event'] == 'attach', 'attach')
    finally:
        checks.end(proc)


def kill_spinner(g, events):
    """A 2-thread spinner overloads the CPUs; the agent must kill it (status 137). Returns the
    action event."""
    g.spawn("sh -c 'spinner 2 & echo $! >/tmp/spinner.pid; wait $!; "
            "echo $? >/tmp/spinner.status'")
    action = wait_event(events, lambda e: e['event'] == 'action', 'action')
    assert action['pid'] == int(g.check('cat /tmp/spinner.pid')), action
    result = wait_event(events, lambda e: e['event'] == 'result', 'result', 30)
    assert result['outcome'] == 'exited', result
    status = g.check('cat /tmp/spinner.status')
    assert status == '137', f'spinner: parent saw status {status!r}'
    print(f'      {action["class"]}: action path {action.get("path")}, exited after '
          f'{result["after_ms"]} ms')
    return action


def check_agent(g):
    """The agent's attach event names the helper, and its recovery goes through it: the action
    event says path "helper"."""
    with agent(g, 'events') as (events, attach):
        assert HELPER_NOTE in attach['note'], attach
        assert kill_spinner(g, events)['path'] == 'helper'


def check_gpu_mailbox(g):
    """GRASS's setting with the helper: test/nic, playing the NIC, signals a sleeping
    `sleep 600` through the GPU's own mailbox; the GPU posts it to the helper and answers once
    the helper has, and the sleeper dies at once (status 137)."""
    if ENGINE != 'gpu':
        raise checks.Skip('the GPU engine only: test/gpu-test.sh runs it on the GPU machine')
    key, mailbox = TMP / 'operator.key', TMP / 'mailbox'
    key.write_text(os.urandom(32).hex() + '\n')
    key.chmod(0o600)
    with agent(g, 'mailbox', f'[remote]\nkey = {key}\ngpu_mailbox = {mailbox}\n'):
        deadline = time.monotonic() + 30
        while not mailbox.exists():
            assert time.monotonic() < deadline, 'the agent wrote no gpu_mailbox file'
            time.sleep(0.1)
        pid, name = victim(g, 'sleep 600', 'sleep')
        p = subprocess.run([str(TOP / 'test' / 'nic'), '--mailbox', str(mailbox), '--key',
                            str(key), 'kill', str(pid)], capture_output=True, text=True,
                           timeout=30)
        answer = json.loads(p.stdout.strip().splitlines()[-1])
        assert p.returncode == 0 and answer.get('status') == 0, (p.returncode, answer, p.stderr)
        assert 'through the in-OS helper' in answer['text'], answer
        left = dead_within(g, pid, DEATH_S)
        assert left is not None, f'sleep still alive {DEATH_S * 1e3:.0f} ms after the answer'
        assert g.check(f'cat /tmp/{name}.status') == '137'
        print(f'      GPU mailbox: {answer["text"]}; dead {left * 1e3:.1f} ms after the answer')


def check_sleeping_handler(g):
    """SIGUSR1 to a program asleep in pause() runs its handler at once, through the helper,
    and the program lives on (a pseudo-signal would wait for its next wake-up)."""
    g.sh('rm -f /tmp/sigcatch.log')
    pid = g.spawn('sigcatch sleep')
    g.wait_ready(pid)
    deadline = time.monotonic() + 30
    while ps(g)[pid]['state'] != 'S':
        assert time.monotonic() < deadline, 'sigcatch never went to sleep'
        time.sleep(0.1)
    t0 = time.monotonic()
    rc, out, err = gpufas(g, '--kill', str(pid), '--signal', 'USR1')
    assert rc == 0 and 'through the in-OS helper' in out, (rc, out, err)
    while 'count=1' not in g.sh('cat /tmp/sigcatch.log 2>/dev/null')[1]:
        assert time.monotonic() - t0 < 1, 'the handler did not run within 1 s'
        time.sleep(0.01)
    print(f'      sigcatch: handler ran {(time.monotonic() - t0) * 1e3:.0f} ms after the request')
    assert ps(g)[pid]['state'] in 'SR', 'sigcatch did not live on'
    g.check(f'kill {pid}')


def check_batch(g):
    """--kill of 60 sleepers, pid 1 and a pid no task has, in one list: one batch to the helper;
    each sleeper killed through it, pid 1 refused, the unknown pid said so, exit 1."""
    g.sh('rm -f /tmp/many.pids')
    g.check("sh -c 'for i in $(seq 60); do sleep 600 & echo $! >>/tmp/many.pids; done; wait' &")
    deadline = time.monotonic() + 30
    while len(pids := g.sh('cat /tmp/many.pids 2>/dev/null')[1].split()) < 60:
        assert time.monotonic() < deadline, f'{len(pids)} of 60 sleepers started'
        time.sleep(0.1)
    pids = [int(p) for p in pids]
    absent = max(ps(g)) + 10000
    t0 = time.monotonic()
    rc, out, err = gpufas(g, '--kill', ','.join(map(str, pids + [1, absent])), '--force')
    took = time.monotonic() - t0
    lines = out.splitlines()
    assert rc == 1 and len(lines) == 60, (rc, len(lines), err)
    assert all('through the in-OS helper' in line for line in lines), out
    assert 'the in-OS helper: refused' in err and f'pid {absent}: ' in err, err
    t0 = time.monotonic()
    while alive := [p for p, t in ps(g).items() if p in pids and t['state'] not in 'ZX']:
        assert time.monotonic() - t0 < 1, f'still alive a second later: {alive}'
    print(f'      60 sleepers: --kill answered in {took * 1e3:.0f} ms, all dead within '
          f'{(time.monotonic() - t0) * 1e3:.0f} ms more')


def check_refusals(g):
    """pid 1 and a kernel thread are refused by the helper even with --force: nothing is
    written (the guest and kthreadd live on)."""
    kthread = next(p for p in ps(g).values() if p['kthread'] and p['pid'] > 1)
    for pid in (1, kthread['pid']):
        rc, out, err = gpufas(g, '--kill', str(pid), '--force')
        assert rc == 1 and 'the in-OS helper: refused' in err and 'nothing written' in err, \
            (pid, rc, out, err)
    assert g.check('echo alive') == 'alive'
    assert ps(g)[kthread['pid']]['state'] != 'Z'


def mailbox(g):
    """The mailbox page in the RAM file: (the file, unbuffered: the guest changes it; the
    offset)."""
    return open(g.ram_path, 'r+b', buffering=0), int(helper_info(g)['mailbox_phys'], 16)


def post_raw(g, magic, start_time, pid, sig):
    """Writes a batch of one request into the mailbox from outside (its header and first
    slot lie in its first page), the sequence number last; returns (seq, ans_seq, result)
    after ten periods."""
    f, at = mailbox(g)
    with f:
        f.seek(at + RQ_OFFSET)
        _, _, seq, _, _ = RQ.unpack(f.read(RQ.size))
        f.seek(at + RQ_OFFSET + RQ.size)
        f.write(SLOT.pack(start_time, pid, sig, 0, 0))
        f.seek(at + RQ_OFFSET)
        f.write(struct.pack('<QI', magic, 1))
        f.flush()
        f.seek(at + RQ_OFFSET + 12)
        f.write(struct.pack('<I', seq + 1))
        f.flush()
        time.sleep(0.05)
        f.seek(at + RQ_OFFSET)
        _, _, _, ans_seq, _ = RQ.unpack(f.read(RQ.size))
        _, _, _, result, _ = SLOT.unpack(f.read(SLOT.size))
    return seq + 1, ans_seq, result


def check_stale(g):
    """A request whose start time is not the task's: "task changed", and the task lives."""
    pid, _ = victim(g, 'sleep 600', 'sleep')
    seq, ans_seq, result = post_raw(g, GFH_RQ_MAGIC, 12345, pid, 9)
    assert ans_seq == seq and result == GFH_CHANGED, (seq, ans_seq, result)
    assert g.alive(pid), 'a stale request killed the task'
    g.check(f'kill {pid}')


def check_garbage(g):
    """Random bytes over the whole page, twice: nothing signalled, one kernel log line, and
    the helper (its header rewritten at the next poll) still serves --kill."""
    pid, _ = victim(g, 'sleep 600', 'sleep')
    for _ in range(2):
        f, at = mailbox(g)
        with f:
            f.seek(at)
            f.write(os.urandom(4096))
        time.sleep(0.05)
    lines = g.check('dmesg | grep -c "gpufas_helper: garbage in the mailbox ignored"')
    assert lines == '1', f'{lines} kernel log lines about garbage'
    assert g.alive(pid), 'garbage killed the sleeper'
    rc, out, err = gpufas(g, '--kill', str(pid))
    assert rc == 0 and 'through the in-OS helper' in out, (rc, out, err)


def check_unloaded(g):
    """rmmod under a running agent: --info says the helper is gone, --kill is the pseudo-signal
    again, and so is the agent's recovery (path "pseudo-signal"), with no hang."""
    with agent(g, 'unloaded') as (events, attach):
        assert HELPER_NOTE in attach['note'], attach
        g.check('rmmod gpufas_helper')
        assert not helper_info(g)['found']
        pid, _ = victim(g, 'sleep 600', 'sleep')
        rc, out, err = gpufas(g, '--kill', str(pid))
        assert rc == 0 and out.startswith(f'SIGKILL marked in {pid}') and 'helper' not in out, \
            (rc, out, err)
        assert kill_spinner(g, events)['path'] == 'pseudo-signal'


def helper_checks(kver):
    g = Guest(kver)
    try:
        g._ensure_built()  # the kernel image first: the module is built for it
        extra_initrd(g)
        g.boot()
        check(f'{kver} no helper: --kill is the pseudo-signal, unchanged', check_absent, g)
        check(f'{kver} helper loads, refuses a second load, --info reports it', check_load, g)
        check(f'{kver} the agent: attach names the helper, recovery goes through it',
              check_agent, g)
        check(f'{kver} sleep 600 killed within 100 ms, status 137', kill_through_helper, g,
              'sleep 600', 'sleep')
        check(f'{kver} cat blocked reading a pipe killed within 100 ms, status 137',
              kill_through_helper, g, 'cat', 'cat', True)
        check(f'{kver} the GPU\'s own mailbox signals through the helper', check_gpu_mailbox,
              g)
        check(f'{kver} SIGUSR1 runs a sleeping program\'s handler at once',
              check_sleeping_handler, g)
        check(f'{kver} one --kill of 62 pids: one batch, each answered', check_batch, g)
        check(f'{kver} pid 1 and a kernel thread refused', check_refusals, g)
        check(f'{kver} a stale start time: task changed, nothing sent', check_stale, g)
        check(f'{kver} garbage in the mailbox: ignored, said once', check_garbage, g)
        check(f'{kver} rmmod under the agent: back to the pseudo-signal', check_unloaded, g)
    finally:
        g.close()


def pack_kit(out):
    """--pack DIR: the archives of every guest's module, for GPUFAS_HELPER_KIT."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for kver in KVERS:
        g = Guest(kver)
        g._ensure_built()
        pack(g, out / f'helper-{kver}.cpio.gz')
    shutil.rmtree(TMP, ignore_errors=True)
    return 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == '--pack':
        return pack_kit(sys.argv[2])
    return checks.run_kernels(KVERS, helper_checks, GPUFAS, TMP)


if __name__ == '__main__':
    sys.exit(main())
