#!/usr/bin/env python3
"""libvirt domains as targets (--target libvirt:NAME), against a real libvirtd.

The suite runs in a mount namespace of its own (it starts itself again under `unshare --mount`):
/run/libvirt, /etc/libvirt, /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt are empty
directories of a temporary tree bind-mounted over the real ones. A system-mode libvirtd started
here in the foreground (root, qemu:///system) so has its default socket, state directory and
memory_backing_dir (/var/lib/libvirt/qemu/ram) where gpufas looks for them, while the machine's
own libvirt, if it has one, is neither seen nor touched. Its qemu.conf runs QEMU as root with no
cgroups, security driver, mount namespace or virtlogd, none of which these machines have.

Domains (TCG, <domain type='qemu'>): the test guest's Debian 6.12 kernel and initramfs booted
directly (<os><kernel>/<initrd>/<cmdline>), 3 GiB on q35 with shared file RAM (at that size
q35 puts 1 GiB above 4 GiB where pc would not: --ps works only if the machine type was taken
from the domain); two more that boot nothing, one with anonymous RAM and one with a private
RAM file. Checks: libvirtd absent, a missing domain, a domain not running, both RAMs that are no
shared file (the one-line advice of what to add), a libvirtd that accepts but never answers
(SIGSTOP): each a one-line error and exit 1, in bounded time; --ps and --info on the running
guest; the agent re-attaching after the domain is destroyed and started again (a new RAM file
path). Everything is destroyed and the daemon stopped at the end, also on failure. Prints one
line per check and `N passed, N failed, N skipped`.

Usage: test/test_libvirt.py [-k SUBSTRING]
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import checks
from checks import check, fail
from guest import Guest, _die_with_parent

TOP = Path(__file__).resolve().parent.parent
GPUFAS = str(TOP / 'gpufas')
IN_NS = 'GPUFAS_LIBVIRT_NS'  # set once the suite runs in its own mount namespace
PRIVATE = ('/run/libvirt', '/etc/libvirt', '/var/lib/libvirt', '/var/cache/libvirt',
           '/var/log/libvirt')
RAM_DIR = '/var/lib/libvirt/qemu/ram'  # qemu.conf's default memory_backing_dir
QEMU_CONF = '''user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
'''
GUEST = 'gpufas-q35'
ANON = 'gpufas-anon'
PRIVATE_FILE = 'gpufas-private'
TIMEOUT = 90      # for correctness only: a loaded 2-core machine may be slow
WAIT_S = 5        # libvirt.c's LIBVIRT_WAIT_S


def gpufas(*args, timeout=30):
    t0 = time.monotonic()
    p = subprocess.run([GPUFAS, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr, time.monotonic() - t0


def one_line_error(target, *expect):
    """gpufas --ps on target: exit 1, one stderr line holding each of expect; its seconds."""
    rc, out, err, took = gpufas('--target', target, '--ps')
    assert rc == 1 and not out, (rc, out, err)
    assert err.count('\n') == 1 and err.startswith(f'gpufas: {target}: '), err
    for e in expect:
        assert e in err, f'{e!r} not in {err!r}'
    return took


class Libvirt:
    """A private libvirtd (see the module's doc) and the domains defined in it."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.proc = None
        self.made = []  # mount points created here, removed again
        for d in PRIVATE:
            src = tmp / d.strip('/').replace('/', '-')
            src.mkdir()
            if not os.path.isdir(d):
                os.makedirs(d)
                self.made.append(d)
            subprocess.run(['mount', '--bind', str(src), d], check=True)
        Path('/etc/libvirt/qemu.conf').write_text(QEMU_CONF)
        self.log = tmp / 'libvirtd.log'

    def start(self):
        with open(self.log, 'w') as log:
            self.proc = subprocess.Popen(['libvirtd', '--pid-file', str(self.tmp / 'libvirtd.pid')],
                                         stdout=log, stderr=subprocess.STDOUT,
                                         preexec_fn=_die_with_parent)
        deadline = time.monotonic() + TIMEOUT
        while subprocess.run(['virsh', '-c', 'qemu:///system', 'version'],
                             capture_output=True).returncode:
            assert self.proc.poll() is None, f'libvirtd exited: {self.log.read_text()[-2000:]}'
            assert time.monotonic() < deadline, 'libvirtd does not answer'
            time.sleep(0.2)

    def virsh(self, *args, check=True):
        p = subprocess.run(['virsh', '-q', '-c', 'qemu:///system', *args], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0 or not check, f'virsh {" ".join(args)}: {p.stderr}'
        return p.stdout

    def define(self, xml, name):
        path = self.tmp / f'{name}.xml'
        path.write_text(xml)
        self.virsh('define', str(path))

    def close(self):
        """Destroys the domains (their QEMUs outlive the daemon), stops it, unmounts."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            for name in self.virsh('list', '--name', '--all', check=False).split():
                self.virsh('destroy', name, check=False)
                self.virsh('undefine', name, check=False)
            checks.end(self.proc)
        for pidfile in Path('/run/libvirt/qemu').glob('*.pid'):
            try:  # a QEMU that libvirt could not destroy
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except (ValueError, OSError):
                pass
        for d in PRIVATE:
            subprocess.run(['umount', '-l', d], stderr=subprocess.DEVNULL)
        for d in self.made:
            os.rmdir(d)


def domain_xml(name, mem_mib, machine, backing='', kernel=None):
    boot = (f'<kernel>{kernel.kernel}</kernel><initrd>{kernel.initrd}</initrd>'
            '<cmdline>console=ttyS0 quiet panic=-1</cmdline>') if kernel else ''
    return f'''<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>{mem_mib}</memory>
  <vcpu>1</vcpu>
  {backing}
  <os><type arch='x86_64' machine='{machine}'>hvm</type>{boot}</os>
  <on_reboot>destroy</on_reboot>
  <devices><serial type='file'><source path='/var/log/libvirt/{name}.console'/></serial></devices>
</domain>
'''


SHARED_FILE = "<memoryBacking><source type='file'/><access mode='shared'/></memoryBacking>"


def ram_files():
    """The guest's RAM files: libvirt makes one directory, ID-NAME, per start."""
    return sorted(str(p) for p in Path(RAM_DIR).glob(f'*-{GUEST}/*') if p.is_file())


def console(name):
    path = Path(f'/var/log/libvirt/{name}.console')
    return path.read_text(errors='replace')[-1500:] if path.exists() else '(no console)'


def wait_booted(name):
    """The guest's processes (--ps --json) once its shell runs."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        rc, out, err, _ = gpufas('--target', f'libvirt:{name}', '--ps', '--json', timeout=60)
        if rc == 0:
            procs = json.loads(out)
            if any(p['comm'] == 'sh' for p in procs):
                return procs
        assert time.monotonic() < deadline, f'no shell in {name}: {err}\n{console(name)}'
        time.sleep(1)


# ---- checks ----

def check_no_daemon():
    took = one_line_error('libvirt:gpufas-none', 'cannot reach libvirtd (qemu:///system)')
    assert took < WAIT_S, took


def check_ps(lv):
    procs = {p['pid']: p for p in wait_booted(GUEST)}
    assert procs[1]['comm'] == 'init' and procs[2]['comm'] == 'kthreadd', procs.get(1)
    sh = [p for p in procs.values() if p['comm'] == 'sh']
    assert any(procs.get(p['ppid'], {}).get('comm') == 'init' for p in sh), sh
    rc, out, err, _ = gpufas('--target', f'libvirt:{GUEST}', '--info', '--json')
    info = json.loads(out)
    assert rc == 0 and info['release'].startswith('6.12.'), (rc, out, err)
    assert 5 << 29 < info['ram_bytes'] <= 3 << 30, info  # the kernel's: all but its reserves
    files = ram_files()
    assert len(files) == 1 and re.fullmatch(rf'{RAM_DIR}/\d+-{GUEST}/pc\.ram', files[0]), files
    # the control: the same file under pc's layout misses the GiB above 4 GiB, where the
    # kernel's early allocations are (memblock allocates top-down)
    rc, out, err, _ = gpufas('--target', f'vm:{files[0]},machine=pc', '--ps', '--json')
    assert rc != 0 or not any(p['comm'] == 'sh' for p in json.loads(out)), out


def check_advice(lv):
    lv.virsh('start', ANON)
    lv.virsh('start', PRIVATE_FILE)
    one_line_error(f'libvirt:{ANON}', 'its RAM is not a shared file: add ' + SHARED_FILE +
                   f' to the domain (virsh edit {ANON})')
    one_line_error(f'libvirt:{PRIVATE_FILE}', "its RAM is not shared: add <access mode='shared'/>"
                   " inside the domain's <memoryBacking>")
    lv.virsh('destroy', ANON)
    lv.virsh('destroy', PRIVATE_FILE)


def check_not_running(lv):
    one_line_error(f'libvirt:{ANON}', f'the domain is not running (virsh start {ANON})')
    one_line_error('libvirt:gpufas-missing', 'no libvirt domain of that name')


class Agent:
    def __init__(self, tmp, target):
        self.events, self.err = tmp / 'agent.jsonl', tmp / 'agent.stderr'
        with open(self.err, 'w') as err:
            self.proc = subprocess.Popen([GPUFAS, '--agent', '--headless', '--engine', 'cpu',
                                          '--target', target, '--events', str(self.events)],
                                         stdout=subprocess.DEVNULL, stderr=err)

    def wait(self, kind, after=0, timeout=TIMEOUT):
        """The first event of that kind after the first `after` lines; (its index, it)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.events.read_text().splitlines() if self.events.exists() else []
            for i, line in enumerate(lines[after:], after):
                if line.endswith('}') and json.loads(line)['event'] == kind:
                    return i + 1, json.loads(line)
            assert self.proc.poll() is None, f'agent exited: {self.err.read_text()}'
            assert time.monotonic() < deadline, f'no {kind} event: {lines[after:]}'
            time.sleep(0.2)

    def ram_mapped(self):
        return sorted({line.split()[-1] for line in open(f'/proc/{self.proc.pid}/maps')
                       if RAM_DIR in line})

    def stop(self):
        return checks.end(self.proc)


def check_agent_restart(lv, tmp):
    agent = Agent(tmp, f'libvirt:{GUEST}')
    try:
        at, _ = agent.wait('attach')
        before = agent.ram_mapped()
        assert before == ram_files(), (before, ram_files())
        lv.virsh('destroy', GUEST)
        at, _ = agent.wait('detach', at)
        at, ev = agent.wait('unavailable', at)
        assert 'the domain is not running' in ev['reason'], ev
        lv.virsh('start', GUEST)
        agent.wait('attach', at)
        after = agent.ram_mapped()
        assert len(after) == 1 and after != before and after == ram_files(), (before, after)
        assert agent.stop() == 0, agent.err.read_text()
    finally:
        agent.stop()


def check_hung_daemon(lv):
    lv.proc.send_signal(signal.SIGSTOP)
    try:
        took = one_line_error(f'libvirt:{GUEST}', f'gave no answer within {WAIT_S} s')
        assert WAIT_S <= took < WAIT_S + 3, took
    finally:
        lv.proc.send_signal(signal.SIGCONT)


def run(tmp):
    kernel = Guest('6.12')
    kernel._ensure_built()
    lv = Libvirt(tmp)
    try:
        check('libvirt: no libvirtd: a one-line error at once', check_no_daemon)
        lv.start()
        lv.define(domain_xml(GUEST, 3072, 'q35', SHARED_FILE, kernel), GUEST)
        lv.define(domain_xml(ANON, 32, 'pc'), ANON)
        lv.define(domain_xml(PRIVATE_FILE, 32, 'pc', "<memoryBacking><source type='file'/>"
                             "</memoryBacking>"), PRIVATE_FILE)
        lv.virsh('start', GUEST)
        check('libvirt: a q35 domain with shared file RAM: --ps lists its processes, --info',
              check_ps, lv)
        check('libvirt: RAM not in a shared file: the one-line advice', check_advice, lv)
        check('libvirt: a domain not running, a missing one: one-line errors',
              check_not_running, lv)
        check('libvirt: the agent re-attaches after the domain restarts (a new RAM file)',
              check_agent_restart, lv, tmp)
        check(f'libvirt: a libvirtd that never answers: an error after {WAIT_S} s',
              check_hung_daemon, lv)
    finally:
        lv.close()


def main():
    checks.parse_args()
    if os.environ.get(IN_NS):
        tmp = Path(tempfile.mkdtemp(prefix='gpufas-libvirt-'))
        try:
            run(tmp)
        except Exception as e:
            fail('libvirt', e)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return checks.summary()
    missing = [t for t in ('libvirtd', 'virsh', 'unshare', 'qemu-system-x86_64')
               if not shutil.which(t)]
    why = (f'no {", ".join(missing)} (test/install-deps.sh installs libvirt-daemon-system, '
           'libvirt-daemon-driver-qemu, libvirt-clients)' if missing else
           'not root: libvirtd runs in system mode here' if os.geteuid() else None)
    if not why:
        p = subprocess.run(['unshare', '--mount', 'true'], capture_output=True, text=True)
        why = p.returncode and f'no mount namespace for a private libvirtd: {p.stderr.strip()}'
    if why:
        checks.skip('libvirt', why)
        return checks.summary()
    os.execvpe('unshare', ['unshare', '--mount', '--propagation', 'private', sys.executable,
                           __file__, *sys.argv[1:]], {**os.environ, IN_NS: '1'})


if __name__ == '__main__':
    sys.exit(main())
