#!/usr/bin/env python3
"""The dashboard: the real ./gpufas in a real terminal (tmux), on a real QEMU guest (6.12, TCG).

tmux runs the dashboard in a pane of its own server; the test types keys (send-keys) and reads
the screen (capture-pane), polling with generous timeouts, and takes ground truth from the
guest's /proc. It checks: the guest's processes shown as /proc has them; sorting, filtering and
search; a memory hog shown as a culprit with the memory detector at FAULT (the agent told only to
report); k killing it through the signal menu and the confirmation; 80x24 keeping every panel;
q restoring the terminal; the built-in terminfo on a box without terminfo files; one clear line
without a terminal or with an unknown TERM. Screens are printed into the test log; the hog's
screen is also kept as test/out/dashboard.ansi and, where python3-pil is, dashboard.png.

Usage: test/test_tui.py [-k SUBSTRING]
"""
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import checks
from checks import check, fail
from guest import Guest

TOP = Path(__file__).resolve().parent.parent
OUT = TOP / 'test' / 'out'
GPUFAS = os.environ.get('GPUFAS', str(TOP / 'gpufas'))  # e.g. ./gpufas-asan
TMP = Path(tempfile.mkdtemp(prefix='gpufas-tui-'))
SERVER = f'gpufas-tui-{os.getpid()}'  # a tmux server of our own: nobody else's sessions
REPORT_ONLY = '[recover]\nmemory = report\ncpu_overload = report\n'
COLUMNS = ['PID', 'PPID', 'S', 'CPU%', 'MEM%', 'RSS', 'THR', 'COMM']  # F6's menu, in order
ROW = re.compile(r'^(!| ) +(\d+) +(\d+) (\S) +[\d.]+ +[\d.]+ +\S+ +\d+ (.*?)\s*$')


def tmux(*args, check=True):
    return subprocess.run(['tmux', '-L', SERVER, *args], capture_output=True, text=True,
                          check=check).stdout


class Pane:
    """A command in a tmux pane that stays after it exits, so its exit status can be read."""

    def __init__(self, name, command, width=120, height=45, env=None):
        self.name = name
        env_args = ' '.join(f'{k}={shlex.quote(v)}' for k, v in (env or {}).items())
        # after the dashboard: its exit status and the terminal's modes, to check restoration
        script = f'env LANG=C.UTF-8 {env_args} {command}; echo "EXIT=$?"; stty -a; sleep 3600'
        tmux('new-session', '-d', '-s', name, '-x', str(width), '-y', str(height),
             'sh', '-c', script)

    def keys(self, *keys, pause=0.3):
        for k in keys:
            tmux('send-keys', '-t', self.name, k)
            time.sleep(pause)

    def type(self, text):
        tmux('send-keys', '-t', self.name, '-l', text)
        time.sleep(0.3)

    def text(self):
        return tmux('capture-pane', '-p', '-J', '-t', self.name)  # -J: wrapped lines joined

    def ansi(self):
        return tmux('capture-pane', '-p', '-e', '-t', self.name)

    def wait(self, pred, what, timeout=60):
        """The screen's text once pred(text) holds; fails with the last screen."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            if pred(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f'no {what} within {timeout} s; the screen:\n{indent(text)}')
            time.sleep(0.3)

    def resize(self, width, height):
        tmux('resize-window', '-t', self.name, '-x', str(width), '-y', str(height))

    def close(self):
        tmux('kill-session', '-t', self.name, check=False)


def indent(text):
    return '\n'.join('      | ' + line for line in text.rstrip('\n').splitlines())


def show(title, text):
    print(f'      {title}:\n{indent(text)}', flush=True)


def rows(text):
    """The process table's rows: dicts with culprit, pid, ppid, state, comm."""
    out = []
    for line in text.splitlines():
        if m := ROW.match(line):
            out.append({'culprit': m[1] == '!', 'pid': int(m[2]), 'ppid': int(m[3]),
                        'state': m[4], 'comm': m[5]})
    return out


def dashboard(g, name, **kw):
    cfg = TMP / 'report-only.ini'
    cfg.write_text(REPORT_ONLY)
    return Pane(name, f'{GPUFAS} --engine cpu --config {cfg} --target vm:{g.ram_path}', **kw)


# ---- the checks on one guest --------------------------------------------------------------

def all_rows(pane):
    """Every row of the table, sorted by PID and paged through with PgDn."""
    sort_by(pane, 'PID')
    pane.wait(lambda t: pid_column(t)[:1] == [1], 'pid 1 on top')
    seen, text = {}, ''
    while True:
        before = len(seen)
        text = pane.text()
        seen.update({r['pid']: r for r in rows(text)})
        if len(seen) == before:
            return list(seen.values()), text
        pane.keys('PageDown', pause=0.5)


def check_processes(g, pane, pids):
    pane.wait(lambda t: 'Tasks' in t and pid_column(t), 'the process table')
    shown, text = all_rows(pane)
    show('the dashboard on the guest, its last page', text)
    truth = {p['pid']: p for p in g.procs()}
    wrong = []
    for r in shown:
        p = truth.get(r['pid'])
        if p is None:
            continue  # exited between the two looks
        # /proc extends a kworker's name with its workqueue: the comm is where it starts
        name = r['comm'][1:-1] if p['kthread'] else r['comm']
        same = p['comm'].startswith(name) if p['kthread'] else p['comm'] == name
        if not same or r['ppid'] != p['ppid'] or r['comm'].startswith('[') != p['kthread']:
            wrong.append((r, p))
    missing = sorted(set(truth) - {r['pid'] for r in shown})
    extra = sorted({r['pid'] for r in shown} - set(truth))
    print(f'      {len(shown)} rows, /proc has {len(truth)}; only in /proc: {missing}, '
          f'only on the screen: {extra}')
    assert not wrong, f'rows unlike /proc: {wrong}'
    assert len(missing) <= 2 and len(extra) <= 2, (missing, extra)  # kworkers come and go
    for comm, pid in pids.items():
        assert any(r['pid'] == pid and r['comm'] == comm for r in shown), (comm, pid)


def pid_column(text):
    return [r['pid'] for r in rows(text)]


def sort_by(pane, column):
    """F6's menu, from its top (PID) down to the column; Home: the table's top row."""
    pane.keys('F6', *['Up'] * 8, *['Down'] * COLUMNS.index(column), 'Enter', 'Home')


def check_sorting(pane):
    sort_by(pane, 'PID')  # Home: the selection follows its process down the list
    text = pane.wait(lambda t: pid_column(t)[:1] == [1], 'sorting by PID')
    pids = pid_column(text)
    assert pids == sorted(pids), pids
    pane.keys('I', 'Home')  # inverted: the largest pid first
    text = pane.wait(lambda t: pid_column(t)[:1] and pid_column(t)[0] != 1, 'inverted order')
    pids = pid_column(text)
    assert pids == sorted(pids, reverse=True), pids
    sort_by(pane, 'CPU%')  # the busiest first
    pane.wait(lambda t: rows(t) and rows(t)[0]['comm'] == 'spinner', 'the spinner on top by CPU%')


def check_filter_and_search(pane, pids):
    pane.keys('\\')
    pane.type('sleep')
    pane.keys('Enter')
    text = pane.wait(lambda t: rows(t) and all('sleep' in r['comm'] for r in rows(t)),
                     'only sleepers after F4 sleep')
    assert pids['sleeper'] in pid_column(text), text
    pane.keys('F4', 'Escape')
    pane.wait(lambda t: len(rows(t)) > 5, 'every process again after Esc')
    pane.keys('/')
    pane.type('sleeper')
    pane.keys('Enter', 'k', 'Enter')  # the menu opens on SIGKILL; the prompt names the process
    pane.wait(lambda t: f'Send SIGKILL to {pids["sleeper"]} (sleeper)? y/N' in t,
              'the confirmation naming the searched process')
    pane.keys('n')
    pane.wait(lambda t: 'cancelled: nothing sent' in t, 'the cancellation')


def hog_mib(g):
    """A hog that leaves about 5 % of RAM available: below the memory detector's 10 %, above
    what makes the kernel's OOM killer act, so the hog stays for the operator."""
    info = dict(re.findall(r'^(\w+):\s+(\d+)', g.check('cat /proc/meminfo'), re.M))
    return (int(info['MemAvailable']) - int(info['MemTotal']) * 5 // 100) // 1024


def check_hog_fault(g, pane):
    sort_by(pane, 'MEM%')  # the hog on top
    hog = g.spawn(f'hog {hog_mib(g)}')
    g.wait_ready(hog, timeout=120)
    text = pane.wait(lambda t: 'mem FAULT' in t and any(r['pid'] == hog and r['culprit']
                                                        for r in rows(t)),
                     'mem FAULT with the hog marked a culprit', timeout=90)
    show('a memory hog: mem FAULT, the hog marked', text)
    line = next(l for l in pane.ansi().splitlines() if re.search(rf'\b{hog}\b.*hog', l))
    assert '\x1b[' in line, f'the hog\'s row has no colour or attribute: {line!r}'
    keep_screenshot(pane)
    return hog


def keep_screenshot(pane):
    OUT.mkdir(exist_ok=True)
    (OUT / 'dashboard.ansi').write_text(pane.ansi())
    if Path('/usr/bin/python3').exists():
        subprocess.run(['/usr/bin/python3', str(TOP / 'test' / 'screenshot.py'),
                        str(OUT / 'dashboard.ansi'), str(OUT / 'dashboard.png')],
                       capture_output=True)


def kill_selected(g, pane, pid, comm):
    """k on the selected row (pid, comm), SIGKILL from the menu, y; until it leaves /proc."""
    pane.keys('k')
    pane.wait(lambda t: 'Send signal' in t and 'SIGKILL' in t, 'the signal menu')
    pane.keys('Enter')
    pane.wait(lambda t: f'Send SIGKILL to {pid} ({comm})? y/N' in t, 'the confirmation')
    pane.keys('y')
    text = pane.wait(lambda t: f'SIGKILL marked in {pid} ({comm})' in t,
                     'the signal\'s result on the status line')
    deadline = time.monotonic() + 30
    while g.alive(pid):
        assert time.monotonic() < deadline, f'{comm} {pid} still in the guest\'s /proc'
        time.sleep(0.5)
    return text


def check_kill_hog(g, pane, hog):
    pane.keys('/')
    pane.type('hog')
    pane.keys('Enter')
    show('after k, SIGKILL, y', kill_selected(g, pane, hog, 'hog'))
    pane.wait(lambda t: hog not in pid_column(t), 'the hog gone from the table')


PANELS = [('the targets', r'^gpufas '), ('the kernel', r'Linux 6\.12'), ('a CPU bar', r'^ +0\['),
          ('memory', r'Mem\['), ('swap', r'Swp\['), ('sparklines', r'avail .*%'),
          ('the detectors', r'F1 \S+ .*panic \S+'), ('the table', r'PID +PPID S'),
          ('processes', r'^[! ] +1 +0 '), ('the events', r'^Events'), ('the keys', r'F10Quit')]


def check_small_terminal(pane):
    sort_by(pane, 'PID')  # pid 1 first, to find a row
    pane.resize(80, 24)
    text = pane.wait(lambda t: all(re.search(p, t, re.M) for _, p in PANELS) and
                     max(len(l) for l in t.splitlines()) <= 80, 'every panel at 80x24')
    show('80x24', text)


def check_quit(pane):
    pane.keys('q')
    text = pane.wait(lambda t: 'EXIT=' in t, 'the exit')
    assert 'EXIT=0' in text, text
    modes = text.split('EXIT=0', 1)[1]
    assert re.search(r'(?<!-)icanon', modes) and re.search(r'(?<![-\w])echo\b', modes), \
        f'the terminal was left in raw mode:\n{modes}'
    assert 'F10Quit' not in text, 'the dashboard is still on the screen'


PROCESSES = 'tui: the guest\'s processes, as its /proc has them'
SORTING = 'tui: sort by PID, inverted, by CPU%'
FILTER = 'tui: filter and search'
HOG = 'tui: a memory hog: mem FAULT, the hog marked a culprit'
KILL = 'tui: k kills the hog through the confirmation'
SMALL = 'tui: 80x24 keeps every panel readable'
QUIT = 'tui: q exits 0 and restores the terminal'
REMOTE = 'tui: --view: a remote agent\'s dashboard over TCP, k kills through it'
GUEST_CHECKS = (PROCESSES, SORTING, FILTER, HOG, KILL, SMALL, QUIT, REMOTE)


def key_file(name):
    path = TMP / name
    path.write_text(os.urandom(32).hex() + '\n')
    path.chmod(0o600)
    return str(path)


def check_remote(g, victim):
    """A headless agent on the guest serves TCP on loopback; --view shows its dashboard, with
    the link in the header, and k signals through the agent (operator key)."""
    key = key_file('op.key')
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    cfg = TMP / 'remote.ini'
    cfg.write_text(REPORT_ONLY)
    agent = subprocess.Popen([GPUFAS, '--agent', '--headless', '--engine', 'cpu', '--config',
                              str(cfg), '--target', f'vm:{g.ram_path}', '--events',
                              str(TMP / 'remote-events.jsonl'), '--listen',
                              f'tcp:127.0.0.1:{port}', '--key', key],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pane = Pane('remote', f'{GPUFAS} --view tcp:127.0.0.1:{port} --key {key}')
    try:
        text = pane.wait(lambda t: 'tcp' in t and victim in pid_column(t), 'the remote table')
        show('the remote dashboard', text)
        pane.keys('\\')  # filter to the victim alone
        pane.type('spinner')
        pane.keys('Enter')
        kill_selected(g, pane, victim, 'spinner')
        pane.keys('q')
        assert 'EXIT=0' in pane.wait(lambda t: 'EXIT=' in t, 'the exit'), pane.text()
    finally:
        pane.close()
        agent.terminate()
        agent.wait(10)


def guest_checks():
    with Guest('6.12', mem_mib=512) as g:
        g.boot()
        pids = {'sleeper': g.spawn('sleeper'), 'spinner': g.spawn('spinner 1')}
        for pid in pids.values():
            g.wait_ready(pid)
        pane = dashboard(g, 'guest')
        try:
            check(PROCESSES, check_processes, g, pane, pids)
            check(SORTING, check_sorting, pane)
            check(FILTER, check_filter_and_search, pane, pids)
            hog = None

            def hog_fault():
                nonlocal hog
                hog = check_hog_fault(g, pane)
            check(HOG, hog_fault)
            if hog:
                check(KILL, check_kill_hog, g, pane, hog)
            else:
                checks.skip(KILL, 'no hog on the screen to kill')
            check(SMALL, check_small_terminal, pane)
            check(QUIT, check_quit, pane)
            check(REMOTE, check_remote, g, pids['spinner'])
        finally:
            pane.close()


# ---- checks without a guest ---------------------------------------------------------------

def check_no_tty():
    p = subprocess.run([GPUFAS, '--target', 'vm:/nonexistent'], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 1 and len(lines) == 1 and 'needs a terminal' in lines[0], p


def check_unknown_term():
    pane = Pane('unknown', f'{GPUFAS} --target vm:/nonexistent',
                env={'TERM': 'gpufas-no-such-terminal'})
    try:
        text = pane.wait(lambda t: 'EXIT=' in t, 'the exit', 30)
        assert 'EXIT=1' in text and "unknown terminal type 'gpufas-no-such-terminal'" in text \
            and 'built in: ' in text, text
    finally:
        pane.close()


def check_no_terminfo():
    """The machine's terminfo directories hidden (tmpfs over them, in a mount namespace of our
    own), TERMINFO and TERMINFO_DIRS at an empty directory: only the built-in entries are left.
    """
    empty = TMP / 'empty'
    empty.mkdir(exist_ok=True)
    hide = ' '.join(f'mount -t tmpfs none {d};' for d in
                    ('/lib/terminfo', '/usr/share/terminfo', '/etc/terminfo') if Path(d).is_dir())
    probe = subprocess.run(['unshare', '-m', 'sh', '-c', f'{hide} TERM=xterm tput cols'],
                           capture_output=True, text=True)
    if 'unknown terminal' not in probe.stderr:
        raise checks.Skip(f'cannot hide the terminfo directories here: {probe.stderr.strip()}')
    inner = (f'{hide} TERM=xterm-256color TERMINFO={empty} TERMINFO_DIRS={empty} '
             f'{GPUFAS} --target vm:/nonexistent')
    pane = Pane('noterminfo', f'unshare -m sh -c {shlex.quote(inner)}')
    try:
        text = pane.wait(lambda t: 'F10Quit' in t and 'not attached' in t, 'the dashboard', 30)
        show('no terminfo files, TERM=xterm-256color', text)
        pane.keys('q')
        text = pane.wait(lambda t: 'EXIT=' in t, 'the exit', 30)
        assert 'EXIT=0' in text, text
    finally:
        pane.close()
    leftovers = list(Path(os.environ.get('TMPDIR', '/tmp')).glob('gpufas-terminfo.*'))
    assert not leftovers, f'private terminfo left behind: {leftovers}'


def check_any_source():
    """A synthetic source (test/bench_tui): three targets, read-only, failing after 60 ticks,
    the first one panicked: every state a remote agent can be in."""
    pane = Pane('source', f'{TOP}/test/bench_tui --targets 3 --read-only --fail-after 60 '
                f'--panic 600 {TMP}/source.txt', width=100, height=30)
    try:
        # the whole first frame, not the first lines of it that tmux shows mid-draw
        pane.wait(lambda t: '1:vm:/dev/shm/synthetic.ram' in t and 'worker-' in t and
                  'F9(read-only)' in t and 'panic FAULT' in t and
                  'Kernel panic - not syncing: sysrq triggered crash' in t,
                  'the synthetic target, read-only, its panic and its log')
        pane.keys('k')
        pane.wait(lambda t: 'read-only session' in t, 'k refused in a read-only session')
        pane.keys('Tab')
        pane.wait(lambda t: 'not attached: /dev/shm/absent-1.ram' in t, 'the second target')
        pane.keys('1')
        text = pane.wait(lambda t: 'no answer from the agent' in t and 'down' in t,
                         'the source failing, shown', timeout=30)
        show('a source that fails', text)
        pane.keys('e')
        pane.wait(lambda t: 'Detectors of vm:/dev/shm/synthetic.ram' in t, 'the evidence screen')
        pane.keys('q', 'q')
        assert 'EXIT=0' in pane.wait(lambda t: 'EXIT=' in t, 'the exit'), 'exit status'
    finally:
        pane.close()


def check_garbage():
    """Boards and processes of random bytes, as a hostile peer could send them, through
    every screen and size, down to 20x6: the dashboard keeps drawing and quits cleanly."""
    pane = Pane('garbage', f'{TOP}/test/bench_tui --targets 5 --garbage 600 {TMP}/g.txt',
                width=100, height=30)
    try:
        pane.wait(lambda t: 'F10Quit' in t, 'the dashboard')
        for width, height in ((20, 6), (80, 24), (250, 70), (100, 30)):
            pane.resize(width, height)
            pane.keys('Tab', 'e', 'PageDown', 'q', 'l', 'End', 'q', 'h', 'q', 'End', 'PageUp')
        pane.keys('F10')
        text = pane.wait(lambda t: 'EXIT=' in t, 'the exit')
        assert 'EXIT=0' in text, text
    finally:
        pane.close()


def main():
    checks.parse_args()
    try:
        check('tui: no terminal: one clear line, exit 1', check_no_tty)
        check('tui: unknown TERM: one clear line, exit 1', check_unknown_term)
        check('tui: opens with no terminfo files (built-in entries)', check_no_terminfo)
        check('tui: any source: targets, read-only, failing, a panic', check_any_source)
        check('tui: hostile boards and processes, every screen and size', check_garbage)
        if any(checks.only in name for name in GUEST_CHECKS):  # a guest only if needed
            guest_checks()
    except Exception as e:  # a guest that did not boot: one failure line, and the summary
        fail('dashboard suite', e)
    finally:
        tmux('kill-server', check=False)
        shutil.rmtree(TMP, ignore_errors=True)
    return checks.summary()


if __name__ == '__main__':
    sys.exit(main())
