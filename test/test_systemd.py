#!/usr/bin/env python3
"""systemd: the agent under a service manager, played here from systemd's side of its documented
protocols (sd_notify(3), sd-daemon(3)), as no systemd runs on these machines.

A unix datagram socket stands for $NOTIFY_SOCKET and the agent runs with WATCHDOG_USEC set, on
a Debian 6.12 guest (TCG) and a RAM file that is not there: READY=1 comes once the guest is
attached and the missing one reported unavailable, STATUS= says so, WATCHDOG=1 comes at half
of WATCHDOG_USEC, stops while the agent is stopped with SIGSTOP (what makes systemd restart
it) and comes again after SIGCONT; SIGHUP gives RELOADING=1 then READY=1, SIGTERM STOPPING=1.
Without a guest: an abstract socket name (@name) works, a WATCHDOG_PID that is not the agent's
gets no pings, and stderr's lines carry the journal's priority prefix only when JOURNAL_STREAM
names stderr's device and inode. Last, `systemd-analyze verify` on the shipped unit. Prints one
line per check and `N passed, N failed, N skipped`.

Usage: test/test_systemd.py [-k SUBSTRING]
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from checks import check, fail
from guest import Guest
import checks

TOP = Path(__file__).resolve().parent.parent
GPUFAS = str(TOP / 'gpufas')
TMP = Path(tempfile.mkdtemp(prefix='gpufas-systemd-'))
TIMEOUT = 60          # for correctness only: a loaded 2-core machine may be slow
WATCHDOG_USEC = 1000000
PING_S = WATCHDOG_USEC / 2e6  # the agent's promise: a ping every half of WATCHDOG_USEC
SLACK_S = 0.35        # one 100 ms round late, on a loaded machine


class Notify:
    """systemd's end of $NOTIFY_SOCKET: every datagram, with when it came."""

    def __init__(self, name):
        self.name = name
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind('\0' + name[1:] if name.startswith('@') else name)
        self.got = []  # (monotonic time, {NAME: value}), as they came
        self.wall = []  # the wall clock of each, as the events' time
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            fields = dict(line.split('=', 1) for line in data.decode().splitlines())
            with self.cond:
                self.got.append((time.monotonic(), fields))
                self.wall.append(time.time())
                self.cond.notify_all()

    def wait(self, name, value=None, after=0.0, timeout=TIMEOUT):
        """The first message since `after` that sets name (to value): (time, fields)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for t, f in self.got:
                    if t >= after and name in f and value in (None, f[name]):
                        return t, f
                left = deadline - time.monotonic()
                assert left > 0, f'no {name}={value or "..."} within {timeout} s: {self.got}'
                self.cond.wait(left)

    def times(self, name, since, until):
        with self.cond:
            return [t for t, f in self.got if name in f and since <= t <= until]

    def close(self):
        self.sock.close()


class Agent:
    """./gpufas --agent --headless under a pretend systemd."""

    def __init__(self, targets, env, tag, events=None, interval_ms=100):
        self.config = TMP / f'{tag}.ini'
        self.config.write_text(f'[agent]\ninterval_ms = {interval_ms}\n')
        self.events = Path(events or TMP / f'{tag}.jsonl')
        self.err = TMP / f'{tag}.stderr'
        argv = [GPUFAS, '--agent', '--headless', '--config', str(self.config),
                '--events', str(self.events), '--engine', 'cpu']
        for t in targets:
            argv += ['--target', t]
        full = {k: v for k, v in os.environ.items()
                if k not in ('NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'JOURNAL_STREAM')}
        full.update(env)
        with open(self.err, 'w') as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err,
                                         env=full)

    def events_written(self):
        if not self.events.exists():
            return []
        return [json.loads(line) for line in self.events.read_text().splitlines()
                if line.endswith('}')]

    def event_kinds(self):
        return [e['event'] for e in self.events_written()]

    def signal(self, sig):
        self.proc.send_signal(sig)
        return time.monotonic()

    def stop(self):
        return checks.end(self.proc) if self.proc.poll() is None else self.proc.returncode


def check_ready_after_attach(agent, notify):
    t, _ = notify.wait('READY', '1')
    with notify.cond:
        ready_wall = notify.wall[[s for s, _ in notify.got].index(t)]
    first = {}
    for e in agent.events_written():
        first.setdefault(e['event'], e['time'])
    assert 'attach' in first and 'unavailable' in first, \
        f'READY=1 before every target was attached or reported: {first}'
    assert max(first['attach'], first['unavailable']) <= ready_wall + 0.01, (first, ready_wall)


def check_status(notify):
    notify.wait('STATUS', '1/2 targets attached, 0 active faults, engine CPU', timeout=10)


def check_watchdog_rate(notify):
    t0 = time.monotonic()
    time.sleep(3.0)
    pings = notify.times('WATCHDOG', t0 - PING_S - SLACK_S, time.monotonic())
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    assert len(pings) >= 3 / (PING_S + SLACK_S), f'{len(pings)} pings in 3 s: {gaps}'
    assert max(gaps) <= PING_S + SLACK_S, f'a gap of {max(gaps):.2f} s: {gaps}'
    assert min(gaps) >= PING_S - 0.05, f'pinged faster than promised: {gaps}'


def check_sigstop(agent, notify):
    agent.signal(signal.SIGSTOP)
    t0 = time.monotonic()
    time.sleep(2.5 * WATCHDOG_USEC / 1e6)
    quiet = notify.times('WATCHDOG', t0 + SLACK_S, time.monotonic())
    resumed = agent.signal(signal.SIGCONT)
    assert not quiet, f'pinged while stopped: {quiet}'
    notify.wait('WATCHDOG', '1', after=resumed, timeout=2 * PING_S + SLACK_S)


def check_sighup(agent, notify):
    sent = agent.signal(signal.SIGHUP)
    t1, f = notify.wait('RELOADING', '1', after=sent, timeout=5)
    usec = int(f['MONOTONIC_USEC'])
    assert abs(usec / 1e6 - time.clock_gettime(time.CLOCK_MONOTONIC)) < 5, usec
    t2, _ = notify.wait('READY', '1', after=t1, timeout=5)
    assert t2 >= t1


def check_sigterm(agent, notify):
    sent = agent.signal(signal.SIGTERM)
    notify.wait('STOPPING', '1', after=sent, timeout=10)
    assert agent.proc.wait(10) == 0, agent.err.read_text()


def check_abstract_and_foreign_watchdog():
    notify = Notify(f'@gpufas-test-{os.getpid()}')
    agent = Agent([f'vm:{TMP}/absent.ram'], {'NOTIFY_SOCKET': notify.name,
                                              'WATCHDOG_USEC': str(WATCHDOG_USEC),
                                              'WATCHDOG_PID': '1'}, 'abstract')
    try:
        t, _ = notify.wait('READY', '1')
        assert agent.event_kinds() == ['unavailable'], agent.event_kinds()
        _, f = notify.wait('STATUS')
        assert f['STATUS'].startswith('0/1 targets attached, 0 active faults'), f
        time.sleep(2 * PING_S + SLACK_S)
        assert not notify.times('WATCHDOG', 0, time.monotonic()), 'pinged for WATCHDOG_PID=1'
    finally:
        agent.stop()
        notify.close()


def check_long_interval():
    """A round every 5 s: the pings still come every half of WATCHDOG_USEC, and SIGTERM does
    not wait for the round."""
    notify = Notify(str(TMP / 'long.sock'))
    agent = Agent([f'vm:{TMP}/absent.ram'], {'NOTIFY_SOCKET': notify.name,
                                              'WATCHDOG_USEC': str(WATCHDOG_USEC)}, 'long',
                  interval_ms=5000)
    try:
        t0, _ = notify.wait('READY', '1')
        time.sleep(2.0)
        pings = notify.times('WATCHDOG', t0, time.monotonic())
        assert len(pings) >= 2.0 / (PING_S + SLACK_S), pings
        sent = agent.signal(signal.SIGTERM)
        notify.wait('STOPPING', '1', after=sent, timeout=10)
        assert agent.proc.wait(10) == 0 and time.monotonic() - sent < 1.5, \
            f'{time.monotonic() - sent:.1f} s to stop'
    finally:
        agent.stop()
        notify.close()


def stderr_of(env, events):
    """What an agent that cannot open its events file writes, and its exit status."""
    path = TMP / 'journal.stderr'
    with open(path, 'w') as err:
        st = os.fstat(err.fileno())
        stream = f'{st.st_dev}:{st.st_ino}'
        env = {k: v.replace('STREAM', stream) for k, v in env.items()}
        rc = subprocess.run([GPUFAS, '--agent', '--headless', '--target', 'vm:/nonexistent',
                             '--events', events], stdout=subprocess.DEVNULL, stderr=err,
                            env={**os.environ, **env}, timeout=30).returncode
    return rc, path.read_text()


def check_journal_prefixes():
    bad = f'{TMP}/no/such/dir/events.jsonl'
    rc, text = stderr_of({'JOURNAL_STREAM': 'STREAM'}, bad)
    assert rc == 1 and text.startswith('<3>gpufas: events file ') and text.count('\n') == 1, text
    rc, text = stderr_of({'JOURNAL_STREAM': '1:STREAM'}, bad)
    assert rc == 1 and text.startswith('gpufas: events file '), text
    rc, text = stderr_of({'JOURNAL_STREAM': ''}, bad)
    assert rc == 1 and text.startswith('gpufas: events file '), text


def check_journal_warning():
    """A reload that fails is a warning, <4>, and the agent goes on."""
    path = TMP / 'warn.stderr'
    with open(path, 'w') as err:
        st = os.fstat(err.fileno())
        config = TMP / 'warn.ini'
        config.write_text('[agent]\ninterval_ms = 100\n')
        proc = subprocess.Popen([GPUFAS, '--agent', '--headless', '--config', str(config),
                                 '--target', 'vm:/nonexistent', '--events', str(TMP / 'w.jsonl')],
                                stdout=subprocess.DEVNULL, stderr=err,
                                env={**os.environ, 'JOURNAL_STREAM': f'{st.st_dev}:{st.st_ino}'})
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (TMP / 'w.jsonl').exists() or not (TMP / 'w.jsonl').read_text():
            assert time.monotonic() < deadline and proc.poll() is None, path.read_text()
            time.sleep(0.1)
        config.write_text('[agent]\ninterval_ms = nonsense\n')
        proc.send_signal(signal.SIGHUP)
        while '\n' not in path.read_text():
            assert time.monotonic() < deadline and proc.poll() is None, path.read_text()
            time.sleep(0.1)
        text = path.read_text()
        assert text.startswith('<4>gpufas: reload: '), text
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def check_unit_verifies():
    if not shutil.which('systemd-analyze'):
        raise checks.Skip('no systemd-analyze (the systemd package)')
    unit = TMP / 'gpufas-agent.service'
    unit.write_text((TOP / 'gpufas-agent.service').read_text()
                    .replace('/usr/local/bin/gpufas', GPUFAS))
    r = subprocess.run(['systemd-analyze', 'verify', str(unit)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    text = unit.read_text()
    for line in ('Type=notify', 'NotifyAccess=main', 'WatchdogSec=', 'Restart=on-failure'):
        assert f'\n{line}' in text, f'the unit lacks {line}'


def main():
    checks.parse_args()
    check('systemd: systemd-analyze verify gpufas-agent.service', check_unit_verifies)
    check('systemd: an abstract @socket; no pings for another WATCHDOG_PID',
          check_abstract_and_foreign_watchdog)
    check('systemd: a 5 s interval still pings every 0.5 s; SIGTERM at once',
          check_long_interval)
    check('systemd: <3> on stderr only when JOURNAL_STREAM names it', check_journal_prefixes)
    check('systemd: a failed reload is <4> in the journal', check_journal_warning)
    notify = Notify(str(TMP / 'notify'))
    try:
        with Guest('6.12', mem_mib=512) as g:
            g.boot()
            agent = Agent([f'vm:{g.ram_path}', f'vm:{TMP}/missing.ram'],
                          {'NOTIFY_SOCKET': notify.name,
                           'WATCHDOG_USEC': str(WATCHDOG_USEC)}, 'guest')
            try:
                check('systemd: 6.12 READY=1 once attached and the missing one unavailable',
                      check_ready_after_attach, agent, notify)
                check('systemd: 6.12 STATUS= targets attached, faults, engine',
                      check_status, notify)
                check('systemd: 6.12 WATCHDOG=1 at half of WATCHDOG_USEC',
                      check_watchdog_rate, notify)
                check('systemd: 6.12 SIGSTOP stops the pings, SIGCONT resumes them',
                      check_sigstop, agent, notify)
                check('systemd: 6.12 SIGHUP: RELOADING=1, then READY=1',
                      check_sighup, agent, notify)
                check('systemd: 6.12 SIGTERM: STOPPING=1, exit 0', check_sigterm, agent, notify)
            finally:
                agent.stop()
    except Exception as e:
        fail('6.12 guest', e)
    finally:
        notify.close()
    return checks.summary()


if __name__ == '__main__':
    sys.exit(main())
