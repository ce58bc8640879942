#!/usr/bin/env python3
"""The remote protocol over TCP on loopback: the agent (./gpufas --agent --headless --listen)
watches one real QEMU guest (Debian 6.12, TCG) and the viewer (./gpufas --view) asks it for
everything it serves; answers are compared with the guest's own /proc. Then the attacks: wrong
and world-readable keys, a read-only key asking for a signal, a fuzz corpus of malformed,
oversized, replayed and altered messages (made with test/remote_client.py, which speaks the
protocol with the standard library's BLAKE2b), half-open connections and a
flood; the agent must drop each with one log line and keep serving. Last, the two deaths the
viewer must tell apart: a stopped agent (SIGSTOP: "monitor dead") and a killed one ("link
dead"). Prints one line per check and `N passed, N failed, N skipped`.

Usage: test/test_remote.py [-k SUBSTRING]
"""
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from checks import check, fail
from guest import Guest
import checks
import remote_client as rc

TOP = Path(__file__).resolve().parent.parent
GPUFAS = os.environ.get('GPUFAS', str(TOP / 'gpufas'))  # e.g. ./gpufas-asan
TMP = Path(tempfile.mkdtemp(prefix='gpufas-remote-'))
TIMEOUT = 60  # for correctness only: a loaded 2-core machine may be slow


def make_key(name, mode=0o600):
    path = TMP / name
    path.write_text(os.urandom(32).hex() + '\n')
    path.chmod(mode)
    return str(path)


OP_KEY, RO_KEY, WRONG_KEY = make_key('op.key'), make_key('ro.key'), make_key('wrong.key')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Agent:
    """./gpufas --agent --headless --listen tcp:127.0.0.1:PORT on one target."""

    def __init__(self, target, config='[remote]\nmax_clients = 8\n'):
        self.port = free_port()
        self.config = TMP / f'agent-{self.port}.ini'
        self.config.write_text(config)
        self.err = TMP / f'agent-{self.port}.stderr'
        self.events = TMP / f'agent-{self.port}.jsonl'
        argv = [GPUFAS, '--agent', '--headless', '--target', target, '--config',
                str(self.config), '--events', str(self.events), '--engine', 'cpu',
                '--listen', f'tcp:127.0.0.1:{self.port}', '--key', OP_KEY, '--read-key', RO_KEY]
        with open(self.err, 'w') as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        self.spec = f'tcp:127.0.0.1:{self.port}'

    def wait_attached(self):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.events.exists() and '"event":"attach"' in self.events.read_text():
                return
            assert self.proc.poll() is None, f'agent exited: {self.log()}'
            time.sleep(0.2)
        raise AssertionError(f'agent did not attach: {self.log()}')

    def log(self):
        return self.err.read_text()

    def wait_log(self, pattern, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.log()):
            assert time.monotonic() < deadline, f'no {pattern!r} in the agent log:\n{self.log()}'
            time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            checks.end(self.proc, 15)


def view(agent, *args, key=OP_KEY, timeout=TIMEOUT):
    """Runs ./gpufas --view against the agent; returns (exit code, stdout, stderr)."""
    p = subprocess.run([GPUFAS, '--view', agent.spec, '--key', key, *args],
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


# ---- every request ---------------------------------------------------------------------------

def check_once_json(g, agent):
    code, out, err = view(agent, '--once', '--json')
    assert code == 0, err
    snap = json.loads(out)
    for key in ('release', 'metrics', 'detectors', 'processes'):
        assert key in snap, f'no {key} in {list(snap)}'
    assert snap['release'] == g.check('uname -r'), snap['release']
    assert snap['attached'] is True, snap['status']
    assert {d['class'] for d in snap['detectors']} >= {'F1', 'F6', 'memory', 'panic'}
    assert snap['metrics']['mem_total_kib'] > 0
    pids = {p['pid']: p for p in snap['processes']}
    assert g.sleeper in pids and pids[g.sleeper]['comm'] == 'sleeper', g.sleeper


def check_once_text(g, agent):
    code, out, err = view(agent, '--once')
    assert code == 0, err
    assert g.check('uname -r') in out and 'memory' in out, out


def check_ps(g, agent):
    code, out, err = view(agent, '--ps', '--json')
    assert code == 0, err
    remote = {p['pid']: p for p in json.loads(out)}
    truth = {p['pid']: p for p in g.procs() if not p['kthread']}
    # processes that lived through both looks: every one listed, with its comm and parent
    for pid, p in truth.items():
        if pid in remote:
            assert (remote[pid]['comm'], remote[pid]['ppid']) == (p['comm'], p['ppid']), pid
    assert g.sleeper in remote and g.spinner in remote
    assert len(set(truth) & set(remote)) >= len(truth) - 2, (sorted(truth), sorted(remote))
    code, text, err = view(agent, '--ps')
    assert code == 0 and re.search(rf'^\s*{g.sleeper}\s.*sleeper$', text, re.M), text


def check_heartbeat(g, agent):
    code, out, err = view(agent, '--heartbeat=3')
    assert code == 0, err + out
    rounds = [int(m) for m in re.findall(r'^beat \d+: up, rtt [\d.]+ ms, rounds (\d+)$', out,
                                         re.M)]
    assert len(rounds) == 3 and rounds == sorted(rounds) and rounds[-1] > rounds[0], out


def check_log(g, agent):
    g.check('echo gpufas-remote-marker >/dev/kmsg')
    code, out, err = view(agent, '--log=20')
    assert code == 0, err
    assert 'gpufas-remote-marker' in out, out[-500:]


def check_detect(g, agent):
    code, out, err = view(agent, '--detect', '--json')
    assert code == 0, err
    verdicts = [json.loads(line) for line in out.splitlines()]
    assert [v['class'] for v in verdicts][:6] == ['F1', 'F2', 'F3', 'F4', 'F5', 'F6'], out
    assert len(verdicts) == 10 and all(v['state'] in ('ok', 'fault') for v in verdicts)
    code, out, err = view(agent, '--detect')
    assert code == 0 and re.search(r'^panic\s+ok', out, re.M), out


def check_kill(g, agent):
    victim = g.spawn('spinner 1')
    g.wait_ready(victim)
    code, out, err = view(agent, '--kill', str(victim))
    assert code == 0, err
    status = g.check(f'wait {victim}; echo $?', timeout=TIMEOUT)
    assert status.splitlines()[-1] == '137', status
    said = [json.loads(line) for line in agent.events.read_text().splitlines()
            if '"event":"operator"' in line]
    assert said and said[-1]['pid'] == victim and said[-1]['signal'] == 'SIGKILL' and \
        said[-1]['outcome'] == 'written', f'the agent did not log the signal: {said}'


def check_kill_usr1(g, agent):
    pid = g.spawn('sigcatch')
    g.wait_ready(pid)
    code, out, err = view(agent, '--kill', str(pid), '--signal', 'USR1')
    assert code == 0, err
    deadline = time.monotonic() + TIMEOUT
    while 'count=1' not in g.sh('cat /tmp/sigcatch.log 2>/dev/null')[1]:
        assert time.monotonic() < deadline, 'sigcatch never saw SIGUSR1'
        time.sleep(0.5)


# ---- who may ask ------------------------------------------------------------------------------

def check_read_only_key(g, agent):
    code, out, err = view(agent, '--kill', str(g.sleeper), key=RO_KEY)
    assert code == 1 and 'read-only' in err, (code, err)
    assert g.alive(g.sleeper)
    code, out, err = view(agent, '--ps', '--json', key=RO_KEY)
    assert code == 0 and json.loads(out), err


def check_wrong_key(g, agent):
    code, out, err = view(agent, '--once', key=WRONG_KEY)
    assert code == 1 and 'wrong key' in err, (code, err)
    assert err.count('\n') == 1, err
    agent.wait_log(r'refused: wrong key')


def check_world_readable_key(g, agent):
    loose = make_key('loose.key', 0o644)
    code, out, err = view(agent, '--once', key=loose)
    assert code == 1 and 'may be read by others' in err, err
    p = subprocess.run([GPUFAS, '--agent', '--headless', '--target', 'vm:/nonexistent',
                        '--listen', f'tcp:127.0.0.1:{free_port()}', '--key', loose],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 1 and 'may be read by others' in p.stderr, p.stderr


def check_no_key(g, agent):
    p = subprocess.run([GPUFAS, '--agent', '--headless', '--target', 'vm:/nonexistent',
                        '--listen', f'tcp:127.0.0.1:{free_port()}'],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 1 and 'no key' in p.stderr, p.stderr


# ---- hostile input ----------------------------------------------------------------------------

def expect_dropped(agent, s, why):
    """The agent closes s and logs why; a fresh session is still served."""
    assert s.closed(), 'the agent kept the connection'
    s.close()
    agent.wait_log(why)
    ok = rc.Session(agent.port, rc.read_key(OP_KEY))
    assert ok.beat(1)[0] == 1
    ok.close()


def fuzz_cases(board_size):
    """Malformed first messages: (name, bytes, the agent's log line)."""
    good = dict(magic=rc.MAGIC, version=rc.VERSION, type_=rc.PROOF, size=board_size, length=32)

    def hdr(**kw):
        f = {**good, **kw}
        return rc.HDR.pack(f['magic'], f['version'], f['type_'], f['size'], f['length'], 0, 0,
                           0, bytes(32))
    return [
        ('garbage', os.urandom(64), r'not a gpufas message'),
        ('old version', hdr(version=9) + bytes(32), r'protocol version 9'),
        ('other build', hdr(size=board_size + 8) + bytes(32), r'same gpufas build'),
        ('4 GiB length', hdr(length=0xffffffff), r'4294967295-byte payload'),
        ('long proof', hdr(length=4096) + bytes(4096), r'at most 32 here'),
        ('short proof', hdr(length=8) + bytes(8), r'where a proof belongs'),
        ('a request first', hdr(type_=rc.HEARTBEAT) + bytes(32), r'where a proof belongs'),
        ('cut short', hdr()[:40], r'cut short'),
    ]


def check_fuzz_handshake(g, agent):
    probe = rc.Session(agent.port, rc.read_key(OP_KEY))
    board_size = probe.board_size
    probe.close()
    for name, data, why in fuzz_cases(board_size):
        s = socket.create_connection(('127.0.0.1', agent.port), timeout=10)
        sess = rc.Session.__new__(rc.Session)
        sess.sock = sess_sock = s
        sess.recv()  # the challenge
        sess_sock.sendall(data)
        try:
            expect_dropped(agent, sess, why)
        except AssertionError as e:
            raise AssertionError(f'{name}: {e}') from None


def check_fuzz_session(g, agent):
    """After a good handshake: replayed, altered, oversized and unknown requests."""
    key = rc.read_key(OP_KEY)
    s = rc.Session(agent.port, key)
    first = s.request(rc.HEARTBEAT, beat=1)
    s.send_raw(first)
    s.recv()
    s.send_raw(first)  # the same bytes again
    expect_dropped(agent, s, r'sequence number 1 where 2 belongs')

    s = rc.Session(agent.port, key)
    msg = bytearray(s.request(rc.HEARTBEAT, beat=1))
    msg[-1] ^= 1  # one bit of the payload
    s.send_raw(bytes(msg))
    expect_dropped(agent, s, r'heartbeat message with a bad MAC')

    s = rc.Session(agent.port, key)
    s.seq += 1
    s.send_raw(s.sealed(s.header(rc.PS, 1 << 20, s.seq), s.tx))
    expect_dropped(agent, s, r'ps message of 1048576 bytes')

    s = rc.Session(agent.port, key)
    s.send_raw(s.request(77))
    expect_dropped(agent, s, r'type 77 is no request')

    s = rc.Session(agent.port, key)  # a request sealed with the agent's own direction's key
    s.tx = s.rx
    s.send_raw(s.request(rc.HEARTBEAT))
    expect_dropped(agent, s, r'bad MAC')


def check_bad_arguments(g, agent):
    """Wrong arguments are answered with an error, and the session goes on."""
    s = rc.Session(agent.port, rc.read_key(OP_KEY))
    for kw, why in ((dict(type_=rc.SNAPSHOT, target=5), b'no target 5'),
                    (dict(type_=rc.LOG, arg=0), b'log records'),
                    (dict(type_=rc.DETECT, arg=99), b'no detector class 99'),
                    (dict(type_=rc.SIGNAL, pid=1, sig=64), b'bad signal')):
        hdr, body = s.call(**kw)
        assert hdr[6] < 0 and why in body, (kw, hdr, body)
    assert s.beat(7)[0] == 7
    s.close()


def check_half_open(g, agent):
    s = socket.create_connection(('127.0.0.1', agent.port), timeout=10)
    t0 = time.monotonic()
    s.settimeout(TIMEOUT)
    data = s.recv(4096)  # the challenge, then nothing from us
    assert data and s.recv(4096) == b'', 'the agent kept a silent connection'
    assert time.monotonic() - t0 >= 4, 'dropped before the handshake deadline'
    agent.wait_log(r'no proof within 5 s \(half-open\)')


def check_flood(g, agent):
    """max_clients = 8: a flood of idle connections is refused while a session goes on."""
    key = rc.read_key(OP_KEY)
    session = rc.Session(agent.port, key)
    flood = [socket.create_connection(('127.0.0.1', agent.port), timeout=10)
             for _ in range(30)]
    agent.wait_log(r'refused: 8 sessions already')
    assert session.beat(1)[0] == 1, 'the established session stopped being served'
    for s in flood:
        s.close()
    deadline = time.monotonic() + TIMEOUT
    while True:  # the places come back as the flood's handshakes end
        try:
            fresh = rc.Session(agent.port, key)
            break
        except (ConnectionError, AssertionError, OSError, struct.error):
            assert time.monotonic() < deadline, 'no place for a new session after the flood'
            time.sleep(0.5)
    assert fresh.beat(2)[0] == 2
    fresh.close()
    session.close()


# ---- dead agent vs hung monitor ---------------------------------------------------------------

def read_lines_until(proc, pattern, timeout):
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        if re.search(pattern, line):
            return lines
    raise AssertionError(f'no {pattern!r} within {timeout} s: {lines[-6:]}')


def check_monitor_dead_then_link_dead(g, agent):
    config = TMP / 'viewer.ini'
    config.write_text('[remote]\nheartbeat_ms = 300\ntimeout_ms = 2000\n')
    viewer = subprocess.Popen([GPUFAS, '--view', agent.spec, '--key', OP_KEY, '--config',
                               str(config), '--heartbeat'], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        read_lines_until(viewer, r': up, rtt', TIMEOUT)
        agent.proc.send_signal(signal.SIGSTOP)
        lines = read_lines_until(viewer, r'monitor dead: no answer within 2.0 s', TIMEOUT)
        assert not any('link dead' in l for l in lines), lines
        agent.proc.send_signal(signal.SIGCONT)
        read_lines_until(viewer, r': up, rtt', TIMEOUT)
        agent.proc.kill()
        agent.proc.wait()
        lines = read_lines_until(viewer, r'link dead: .*(refused|closed|reset)', TIMEOUT)
        assert not any('monitor dead' in l for l in lines), lines
    finally:
        viewer.kill()
        viewer.wait()


def main():
    checks.parse_args()
    with Guest('6.12', mem_mib=512) as g:
        try:
            g.boot()
            g.sleeper, g.spinner = g.spawn('sleeper'), g.spawn('spinner 1')
            for pid in (g.sleeper, g.spinner):
                g.wait_ready(pid)
            agent = Agent(f'vm:{g.ram_path}')
            agent.wait_attached()
        except Exception as e:
            fail('guest and agent', e)
            return checks.summary()
        try:
            for name, fn in (('--once --json: release, metrics, detectors, processes',
                              check_once_json),
                             ('--once as text', check_once_text),
                             ('--ps matches the guest /proc', check_ps),
                             ('--heartbeat: round trips, rounds advance', check_heartbeat),
                             ('--log: the kernel log tail', check_log),
                             ('--detect: inline detection of every class', check_detect),
                             ('--kill: SIGKILL a spinner (status 137)', check_kill),
                             ('--kill --signal USR1 runs the handler', check_kill_usr1),
                             ('read-only key: no signal, reads fine', check_read_only_key),
                             ('wrong key: refused, one line, logged', check_wrong_key),
                             ('world-readable key refused by viewer and agent',
                              check_world_readable_key),
                             ('agent with --listen and no key refuses to start', check_no_key),
                             ('fuzz: malformed handshakes dropped and logged',
                              check_fuzz_handshake),
                             ('fuzz: replayed, altered, oversized, unknown requests',
                              check_fuzz_session),
                             ('bad arguments answered, the session goes on',
                              check_bad_arguments),
                             ('half-open connection dropped after 5 s', check_half_open),
                             ('connection flood refused, sessions served', check_flood),
                             ('SIGSTOP: monitor dead; SIGKILL: link dead',
                              check_monitor_dead_then_link_dead)):
                check(f'remote tcp: {name}', fn, g, agent)
        finally:
            agent.stop()
    return checks.summary()


if __name__ == '__main__':
    sys.exit(main())
