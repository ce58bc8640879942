#!/usr/bin/env python3
"""Prometheus: the agent's endpoint (--listen http:), its textfile ([agent] textfile) and the
shipped alert rules, against Debian's own promtool and a real Prometheus server.

One real QEMU guest (Debian 6.12, TCG) is watched by the agent with
--listen http:127.0.0.1:PORT; a prometheus started here (its own config, storage in a temp
dir, web on another loopback port) scrapes it every second, and its HTTP API must show the
target attached, then a memory hog's memory detector at 2 (fault) and the action counter up
(the hog protected at first, so that the fault lasts past a scrape, then, after SIGHUP,
killed: the result counter says exited). The endpoint must survive hostile requests (garbage, oversized heads,
too many headers, a slowloris connection, a wrong path, POST), each answered or closed within
bounds while it goes on serving; `promtool check metrics` must accept what it serves and the
textfile, which must be whole whenever it is read while being rewritten. Last, `promtool
check rules` and `promtool test rules` over contrib/. Prints one line per check and
`N passed, N failed, N skipped`.

Usage: test/test_prom.py [-k SUBSTRING]
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from checks import check, fail
from guest import Guest
import checks

TOP = Path(__file__).resolve().parent.parent
GPUFAS = str(TOP / 'gpufas')
CONTRIB = TOP / 'contrib'
TMP = Path(tempfile.mkdtemp(prefix='gpufas-prom-'))
TIMEOUT = 60      # for correctness only: a loaded 2-core machine may be slow
READ_S = 5.0      # http.h's HTTP_READ_S: a request's head must be whole by then
TEXTFILE = TMP / 'gpufas.prom'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# The serial console's probes (cat, a subshell) are protected throughout: a process born
# within the window counts as growing by all it holds, and the agent would kill one of them
# as the next culprit while the hog is protected.
PROBES = 'cat, sh'


def config(protect):
    return (f'[agent]\ntextfile = {TEXTFILE}\ntextfile_ms = 100\n'
            f'[recover]\nmemory = kill\nprotect = {protect}\n')


class Agent:
    """./gpufas --agent --headless --listen http:127.0.0.1:PORT on one target."""

    def __init__(self, target):
        self.target = target
        self.port = free_port()
        self.config = TMP / 'agent.ini'
        self.config.write_text(config(protect=f'hog, {PROBES}'))
        self.err = TMP / 'agent.stderr'
        self.events = TMP / 'agent.jsonl'
        argv = [GPUFAS, '--agent', '--headless', '--target', target, '--config',
                str(self.config), '--events', str(self.events), '--engine', 'cpu',
                '--listen', f'http:127.0.0.1:{self.port}']
        with open(self.err, 'w') as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)

    def event(self, kind, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.events.exists():
                for line in self.events.read_text().splitlines():
                    if line.endswith('}') and json.loads(line)['event'] == kind:
                        return json.loads(line)
            assert self.proc.poll() is None, f'agent exited: {self.err.read_text()}'
            time.sleep(0.2)
        raise AssertionError(f'no {kind} event within {timeout} s: {self.err.read_text()}')

    def stop(self):
        return checks.end(self.proc) if self.proc.poll() is None else self.proc.returncode


class Prometheus:
    """A prometheus server scraping the agent every second, its web API on loopback."""

    def __init__(self, agent_port):
        self.port = free_port()
        cfg = TMP / 'prometheus.yml'
        cfg.write_text('global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n'
                       f'rule_files:\n  - {CONTRIB / "gpufas.rules.yml"}\n'
                       'scrape_configs:\n  - job_name: gpufas\n    static_configs:\n'
                       f'      - targets: ["127.0.0.1:{agent_port}"]\n')
        self.log = TMP / 'prometheus.log'
        with open(self.log, 'w') as log:
            self.proc = subprocess.Popen(
                ['prometheus', f'--config.file={cfg}', f'--storage.tsdb.path={TMP / "tsdb"}',
                 f'--web.listen-address=127.0.0.1:{self.port}'],
                stdout=log, stderr=subprocess.STDOUT)

    def query(self, expr):
        url = (f'http://127.0.0.1:{self.port}/api/v1/query?'
               + urllib.parse.urlencode({'query': expr}))
        with urllib.request.urlopen(url, timeout=5) as r:
            answer = json.load(r)
        assert answer['status'] == 'success', answer
        return answer['data']['result']

    def wait(self, expr, timeout=TIMEOUT):
        """The first non-empty result of expr, waiting up to timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if result := self.query(expr):
                    return result
            except OSError:
                pass  # not listening yet
            assert self.proc.poll() is None, f'prometheus exited: {self.log.read_text()[-2000:]}'
            assert time.monotonic() < deadline, f'no {expr} within {timeout} s'
            time.sleep(0.25)

    def stop(self):
        if self.proc.poll() is None:
            checks.end(self.proc)


def http(port, raw, timeout=READ_S + 3):
    """Sends raw bytes on a fresh connection; returns (everything answered, seconds until the
    agent closed)."""
    t0 = time.monotonic()
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        try:
            s.sendall(raw)
        except OSError:
            pass  # the agent may close before all of it is sent
        return read_all(s), time.monotonic() - t0


def read_all(s):
    got = b''
    try:
        while chunk := s.recv(65536):
            got += chunk
    except ConnectionResetError:
        pass
    return got


def status_of(answer):
    m = re.match(rb'HTTP/1\.1 (\d{3}) ', answer)
    return int(m[1]) if m else None


def scrape(port):
    answer, _ = http(port, b'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n')
    assert status_of(answer) == 200, answer[:200]
    head, _, body = answer.partition(b'\r\n\r\n')
    assert b'Connection: close' in head and b'version=0.0.4' in head, head
    length = int(re.search(rb'Content-Length: (\d+)', head)[1])
    assert len(body) == length, (len(body), length)
    return body.decode()


def promtool(*args, stdin=None):
    p = subprocess.run(['promtool', *args], input=stdin, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, f'promtool {" ".join(args)}: {p.stdout}{p.stderr}'
    return p.stdout + p.stderr


def value(result):
    return float(result[0]['value'][1])


# ---- checks ----

def check_scraped_attached(agent, prom):
    r = prom.wait('gpufas_attached == 1')
    assert r[0]['metric']['target'] == agent.target, r
    assert value(prom.wait('up{job="gpufas"}')) == 1
    prom.wait('gpufas_engine_info{engine="CPU"} == 1')
    prom.wait('gpufas_memory_total_bytes > 400e6')
    prom.wait('gpufas_sample_age_seconds < 5')
    prom.wait('count(gpufas_cpu_ratio{mode="idle"}) == 2')
    prom.wait('gpufas_round_seconds > 0')


def check_promtool_metrics(agent, prom):
    text = scrape(agent.port)
    for name in ('gpufas_attached', 'gpufas_detector_state', 'gpufas_cpu_ratio',
                 'gpufas_verdicts_total', 'gpufas_actions_total', 'gpufas_results_total'):
        assert f'# TYPE {name} ' in text, name
    promtool('check', 'metrics', stdin=text)


def check_hog_fault_and_action(g, agent, prom):
    """The hog protected at first ([recover] protect): its memory verdict stays, and
    Prometheus sees the fault with no action yet; after SIGHUP unprotects it, the agent kills
    it: the action and result counters go up."""
    avail = value(prom.wait('gpufas_memory_available_bytes'))
    total = value(prom.wait('gpufas_memory_total_bytes'))
    mib = int((avail - 0.07 * total) / 2**20)  # leaves 7 % available: under [detect]'s 10 %,
    # with room for the guest's own use to grow before the hog is ready (else its OOM killer)
    hog = g.spawn(f'hog {mib} 200')
    try:
        g.wait_ready(hog)
    except Exception as e:  # say who ended it: the guest's OOM killer, or the agent
        oom = g.sh('dmesg | grep -iE "out of memory|killed process" | tail -2')[1]
        raise AssertionError(f'{e}; hog of {mib} MiB, {avail / 2**20:.0f} MiB available of '
                             f'{total / 2**20:.0f}; kernel: {oom!r}; agent: '
                             f'{[x for x in agent.events.read_text().splitlines() if "action" in x]}')
    prom.wait('gpufas_detector_state{class="memory"} == 2')
    assert value(prom.query('gpufas_actions_total{class="memory"}')) == 0, \
        f'an action while the hog was protected: ' \
        f'{[x for x in agent.events.read_text().splitlines() if "action" in x]}'
    assert g.alive(hog), 'the protected hog was killed'
    agent.config.write_text(config(protect=PROBES))
    agent.proc.send_signal(signal.SIGHUP)
    prom.wait('gpufas_actions_total{class="memory"} == 1')
    prom.wait('gpufas_results_total{class="memory",outcome="exited"} == 1')
    status = g.check(f'wait {hog}; echo $?', timeout=30)
    assert status.splitlines()[-1] == '137', f'hog exit status {status!r}'
    # cleared within the minute: WARN, as the dashboard shows it
    prom.wait('gpufas_detector_state{class="memory"} == 1')
    assert value(prom.query('gpufas_verdicts_total{class="memory"}')) >= 1


def check_hostile(agent):
    port = agent.port
    cases = [
        ('garbage', b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n', 400),
        ('no version', b'GET /metrics\r\n\r\n', 400),
        ('oversized head', b'GET /metrics HTTP/1.1\r\nX: ' + b'a' * 20000 + b'\r\n\r\n', 431),
        ('too many headers', b'GET /metrics HTTP/1.1\r\n' + b'H: v\r\n' * 100 + b'\r\n', 431),
        ('wrong path', b'GET /admin HTTP/1.1\r\n\r\n', 404),
        ('POST', b'POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello', 405),
    ]
    for what, raw, want in cases:
        answer, took = http(port, raw)
        assert status_of(answer) == want, f'{what}: {answer[:120]!r}'
        assert took < 2, f'{what}: closed after {took:.1f} s'
    # slowloris: a head trickled in, never finished; the endpoint serves meanwhile and
    # closes it (408) once HTTP_READ_S is up
    s = socket.create_connection(('127.0.0.1', port), timeout=READ_S + 5)
    t0 = time.monotonic()
    s.sendall(b'GET /metrics HTTP/1.1\r\n')
    while time.monotonic() - t0 < 2:
        s.sendall(b'X')
        time.sleep(0.5)
    assert 'gpufas_attached' in scrape(port)
    answer = read_all(s)
    took = time.monotonic() - t0
    s.close()
    assert status_of(answer) == 408, answer[:120]
    assert READ_S - 0.5 < took < READ_S + 2, f'slowloris closed after {took:.1f} s'
    # a connection that sends nothing at all is closed too
    answer, took = http(port, b'')
    assert took < READ_S + 2, f'a silent connection closed after {took:.1f} s'
    assert 'gpufas_attached' in scrape(port)
    assert agent.proc.poll() is None


def check_textfile(agent):
    """Read while rewritten every 100 ms: always whole (promtool accepts it, its last family
    ends it), each version a new file renamed over the old, no temporary file left behind."""
    versions, deadline = set(), time.monotonic() + 3
    while time.monotonic() < deadline:
        with open(TEXTFILE) as f:
            st = os.fstat(f.fileno())
            text = f.read()
        assert st.st_size == len(text.encode()), st  # whole, if replaced since
        versions.add((st.st_ino, st.st_mtime_ns))
        assert re.search(r'\ngpufas_round_seconds [0-9.e+-]+\n$', text), text[-200:]
        time.sleep(0.02)
    assert len(versions) > 10, f'{len(versions)} versions in 3 s'
    promtool('check', 'metrics', stdin=TEXTFILE.read_text())
    assert agent.stop() == 0
    left = [p.name for p in TMP.iterdir() if '.tmp.' in p.name]
    assert not left, left


def check_rules():
    promtool('check', 'rules', str(CONTRIB / 'gpufas.rules.yml'))
    promtool('test', 'rules', str(CONTRIB / 'gpufas.rules.test.yml'))


def check_rules_loaded(prom):
    url = f'http://127.0.0.1:{prom.port}/api/v1/rules'
    with urllib.request.urlopen(url, timeout=5) as r:
        groups = json.load(r)['data']['groups']
    names = {rule['name'] for g in groups for rule in g['rules']}
    assert {'GpufasFault', 'GpufasKernelPanic', 'GpufasTargetStale',
            'GpufasAgentDown'} <= names, names


def main():
    checks.parse_args()
    if not shutil.which('promtool') or not shutil.which('prometheus'):
        checks.skip('Prometheus', 'no promtool or prometheus: test/install-deps.sh prometheus')
        return checks.summary()
    check('prom: promtool check rules, test rules (contrib/)', check_rules)
    try:
        with Guest('6.12', mem_mib=512) as g:
            g.boot()
            agent = Agent(f'vm:{g.ram_path}')
            prom = Prometheus(agent.port)
            try:
                agent.event('attach')
                check('prom: a real Prometheus scrapes the agent: attached, readings',
                      check_scraped_attached, agent, prom)
                check('prom: promtool check metrics accepts the endpoint',
                      check_promtool_metrics, agent, prom)
                check('prom: the rules are loaded by the server', check_rules_loaded, prom)
                check('prom: a memory hog: detector_state 2, actions and results counted',
                      check_hog_fault_and_action, g, agent, prom)
                check('prom: hostile requests answered or closed in bounds, serving goes on',
                      check_hostile, agent)
                check('prom: the textfile is always whole, renamed, promtool accepts it',
                      check_textfile, agent)
            finally:
                prom.stop()
                agent.stop()
    except Exception as e:
        fail('6.12 guest', e)
    return checks.summary()


if __name__ == '__main__':
    sys.exit(main())
