#!/usr/bin/env python3
"""QEMU test guests for gpufas (stdlib only).

A guest is a Debian cloud kernel (one of KVERS, KASLR on) with a busybox initramfs, run under TCG
with its RAM in a /dev/shm file (`ram_path`) that gpufas reads as `vm:PATH`. The test drives the
guest's root shell over the serial console and takes ground truth from the guest's own /proc.

    from guest import Guest
    with Guest('6.12', mem_mib=512) as g:
        g.boot()
        pid = g.spawn('spinner 2'); g.wait_ready(pid)
        status, out = g.sh('cat /proc/loadavg')
        ... run gpufas on f'vm:{g.ram_path}', compare with g.procs() ...

CLI:
    python3 test/guest.py demo [--kver 6.1] [--mem MIB]   boots, starts a 2-thread spinner, a
        sleeper, a 64 MiB hog and sigcatch, prints RAM=<path>, runs until SIGTERM/SIGINT
    python3 test/guest.py shell [--kver 6.1] [--mem MIB]  interactive serial console (Ctrl-] quits)

Environment: GPUFAS_CACHE (default ~/.cache/gpufas): kernel .debs, and the default workdir
($GPUFAS_CACHE/guest) where build-guest.sh puts vmlinuz-KVER and initramfs.cpio.gz;
GPUFAS_QEMU: the QEMU to run (default qemu-system-x86_64; e.g. the run-qemu of a QEMU kit).

Nothing leaks: close() (also on `with` exit and at interpreter exit) stops QEMU and removes the
RAM file; QEMU dies with the thread that started it (PR_SET_PDEATHSIG); the RAM file and run
dir (monitor socket) of a test process killed outright are swept at the next boot.
"""
import argparse
import atexit
import contextlib
import ctypes
import itertools
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty
from pathlib import Path

import checks

HERE = Path(__file__).resolve().parent
BUILD = HERE / 'build-guest.sh'
CACHE = Path(os.environ.get('GPUFAS_CACHE', Path.home() / '.cache' / 'gpufas'))
# build-guest.sh's names: a series, and for a second build of one series its Debian tag
KVERS = ('5.10', '6.1', '6.12', '6.12+deb13', '7.2')
PROMPT = re.compile(rb'gpufas# ')
PF_KTHREAD = 0x00200000  # task->flags bit of kernel threads (include/linux/sched.h)

_libc = ctypes.CDLL(None, use_errno=True)  # loaded here: the child must not dlopen after fork
_ids = itertools.count(1)
_live = set()  # guests not closed yet, closed at exit


class GuestError(RuntimeError):
    pass


def _die_with_parent():
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: no orphan QEMU if the test is killed


def _sweep_leftovers():
    """Removes the RAM files and run dirs (gpufas-guest-PID-...) of processes that are gone:
    they were killed before close() could run."""
    for f in [*Path('/dev/shm').glob('gpufas-guest-*.ram'),
              *Path(tempfile.gettempdir()).glob('gpufas-guest-*')]:
        try:
            os.kill(int(f.name.split('-')[2]), 0)
        except ProcessLookupError:
            if f.is_dir():
                shutil.rmtree(f, ignore_errors=True)
            else:
                f.unlink(missing_ok=True)
        except (ValueError, PermissionError):
            pass  # not ours to judge: malformed name, or another user's live process


class Guest:
    def __init__(self, kver='6.1', mem_mib=512, smp=2, workdir=None, append='', qemu_args=(),
                 extra_initrd=None, ram_path=None, reboot=False):
        """append: extra kernel command line; qemu_args: extra QEMU arguments (disks, ...);
        extra_initrd: a (gzipped) cpio archive of files the test adds to the initramfs, or a
        list of them; ram_path: the RAM file (default: a fresh name in /dev/shm); reboot: a
        guest reboot restarts the guest in place (default: QEMU exits)."""
        if kver not in KVERS:
            raise ValueError(f'kver must be one of {KVERS}, not {kver!r}')
        self.kver, self.mem_mib, self.smp = kver, mem_mib, smp
        self.workdir = Path(workdir) if workdir else CACHE / 'guest'
        self.kernel = self.workdir / f'vmlinuz-{kver}'
        self.initrd = self.workdir / 'initramfs.cpio.gz'
        self.append, self.qemu_args = append, list(qemu_args)
        self.extra_initrd = extra_initrd
        self.ram_path = ram_path or f'/dev/shm/gpufas-guest-{os.getpid()}-{next(_ids)}-{kver}.ram'
        self.reboot = reboot
        self.boot_seconds = None
        self.proc = None
        self._rundir = None
        self._out = bytearray()  # everything the serial console printed
        self._eof = False
        self._cond = threading.Condition()
        self._sh_lock = threading.Lock()
        self._seq = itertools.count(1)
        self._logs = {}  # pid -> log path of spawn()ed commands

    # -- lifecycle ---------------------------------------------------------------------------

    def boot(self, timeout=60):
        """Builds the guest if needed, starts QEMU and waits for the shell. Returns self."""
        self._ensure_built()
        _sweep_leftovers()
        t0 = time.monotonic()
        _live.add(self)
        try:
            self._start_qemu()
            self._expect(PROMPT, 0, timeout)
            release = self.sh('uname -r')[1]
            series, _, tag = self.kver.partition('+')
            if not release.startswith(series + '.') or (tag and f'+{tag}-' not in release):
                raise GuestError(f'expected a {self.kver} kernel, the guest runs {release!r}')
        except BaseException:
            self.close()
            raise
        self.boot_seconds = time.monotonic() - t0
        return self

    def close(self):
        """Stops QEMU (SIGTERM, then SIGKILL) and removes the RAM file. Safe to call twice."""
        if self.proc:
            if self.proc.poll() is None:
                checks.end(self.proc, 5)
            self._reader.join(5)  # it reads until EOF, which QEMU's exit just gave it
            for pipe in (self.proc.stdin, self.proc.stdout):
                with contextlib.suppress(OSError):  # unsent input after QEMU died
                    pipe.close()
        Path(self.ram_path).unlink(missing_ok=True)
        if self._rundir:
            shutil.rmtree(self._rundir, ignore_errors=True)
            self._rundir = None
        _live.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _ensure_built(self):
        srcs = [BUILD, *HERE.glob('guest/*.c')]
        if self.kernel.exists() and self.initrd.exists() and \
                self.initrd.stat().st_mtime >= max(p.stat().st_mtime for p in srcs):
            return
        subprocess.run([str(BUILD), self.kver, str(self.workdir)], check=True,
                       stdout=subprocess.DEVNULL)

    def _start_qemu(self):
        self._rundir = tempfile.mkdtemp(prefix=f'gpufas-guest-{os.getpid()}-')
        self._monitor_path = os.path.join(self._rundir, 'monitor.sock')
        self._stderr_path = os.path.join(self._rundir, 'qemu.stderr')
        initrd = str(self.initrd)
        if self.extra_initrd:
            # the kernel unpacks concatenated cpio archives one after the other
            initrd = os.path.join(self._rundir, 'initrd')
            extras = self.extra_initrd
            if isinstance(extras, (str, os.PathLike)):
                extras = [extras]
            with open(initrd, 'wb') as out:
                for part in (self.initrd, *extras):
                    out.write(Path(part).read_bytes())
        # thread=single: one host thread runs every vCPU. With a thread per vCPU (MTTCG) the
        # 6.12 kernel's text patching (static keys flipping at boot, or when the RNG becomes
        # ready) raced the other vCPU and panicked the guest in about 3 % of boots.
        cmd = [os.environ.get('GPUFAS_QEMU', 'qemu-system-x86_64'), '-accel', 'tcg,thread=single',
               '-m', str(self.mem_mib), '-smp', str(self.smp),
               '-kernel', str(self.kernel), '-initrd', initrd,
               '-append', f'console=ttyS0 quiet panic=-1 {self.append}'.strip(),
               '-object', f'memory-backend-file,id=mem,size={self.mem_mib}M,'
                          f'mem-path={self.ram_path},share=on',
               '-machine', 'pc,memory-backend=mem',
               '-display', 'none', '-vga', 'none', '-nic', 'none',
               *([] if self.reboot else ['-no-reboot']),
               '-serial', 'stdio', '-monitor', f'unix:{self._monitor_path},server,nowait',
               *self.qemu_args]
        with open(self._stderr_path, 'wb') as err:
            # own session: a ^C meant for the test does not kill QEMU before close() runs
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=err, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._read_serial, daemon=True)
        self._reader.start()

    # -- serial console ----------------------------------------------------------------------

    def _read_serial(self):
        fd = self.proc.stdout.fileno()
        while chunk := os.read(fd, 65536):
            with self._cond:
                self._out += chunk
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _send(self, text):
        try:
            self.proc.stdin.write(text.encode() if isinstance(text, str) else text)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise GuestError('QEMU is not running\n' + self._tail()) from None

    def _expect(self, pattern, start, timeout):
        """Waits until `pattern` appears in the console output after offset `start`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (m := pattern.search(self._out, start)):
                left = deadline - time.monotonic()
                if self._eof:
                    raise GuestError(f'QEMU exited (rc={self.proc.wait()})\n' + self._tail())
                if left <= 0:
                    raise TimeoutError(f'no {pattern.pattern!r} after {timeout} s\n' + self._tail())
                self._cond.wait(left)
            return m

    def console_mark(self):
        """Where the console output ends now: for wait_console()."""
        with self._cond:
            return len(self._out)

    def wait_console(self, pattern, mark, timeout):
        """The first match of `pattern` (bytes regex) printed on the console after `mark`."""
        return self._expect(pattern, mark, timeout)

    def console_send(self, text):
        """Types text into the guest's shell as it is, with no markers around it."""
        self._send(text)

    def _tail(self, n=2000):
        err = Path(self._stderr_path).read_text(errors='replace') if self._rundir else ''
        con = self._out[-n:].decode(errors='replace').replace('\r', '')
        return f'--- console tail ---\n{con}\n--- qemu stderr ---\n{err}'

    def sh(self, cmd, timeout=30):
        """Runs `cmd` in the guest's shell; returns (exit status, output without CRs and
        trailing newlines). Output between two unique markers is the command's own (plus
        whatever background jobs print meanwhile); stdin is /dev/null. On timeout the command
        gets a ^C and TimeoutError is raised."""
        # busybox's line editor silently cuts input lines at 1023 bytes
        if any(len(line.encode()) > 1000 for line in cmd.splitlines()):
            raise ValueError('guest command lines must be at most 1000 bytes')
        with self._sh_lock:
            n = next(self._seq)
            # \036 is typed as text, so only printf's output holds the marker bytes. cmd sits
            # on lines of its own: it may end in '&' or a comment.
            line = (f"printf '\\036B{n}\\n'; {{\n{cmd}\n}} </dev/null; "
                    f"printf '\\036E{n}:%d\\n' $?\n")
            start = len(self._out)
            self._send(line)
            try:
                end = self._expect(re.compile(rb'\x1eE%d:(\d+)\r?\n' % n), start, timeout)
            except TimeoutError:
                self._send(b'\x03')
                raise
            begin = self._expect(re.compile(rb'\x1eB%d\r?\n' % n), start, 0)
            out = self._out[begin.end():end.start()].decode(errors='replace')
            return int(end[1]), out.replace('\r', '').rstrip('\n')

    def check(self, cmd, timeout=30):
        """sh() that raises GuestError on a non-zero status; returns the output."""
        status, out = self.sh(cmd, timeout)
        if status:
            raise GuestError(f'{cmd!r} exited {status}: {out}')
        return out

    # -- workloads ---------------------------------------------------------------------------

    def spawn(self, cmd):
        """Starts `cmd` in the background, output to /tmp/spawn-N.log; returns its pid."""
        log = f'/tmp/spawn-{next(self._seq)}.log'
        pid = int(self.check(f'{cmd} >{log} 2>&1 & echo $!').split()[-1])
        self._logs[pid] = log
        return pid

    def wait_ready(self, pid_or_log, timeout=60):
        """Waits for a 'NAME ready pid=PID' line in the log of a spawn()ed pid (or in the log
        file named); returns that line. Fails early if the spawned process exits."""
        log = self._logs[pid_or_log] if isinstance(pid_or_log, int) else pid_or_log
        deadline = time.monotonic() + timeout
        while True:
            out = self.sh(f'cat {log}')[1]
            if m := re.search(r'^.*\bready pid=\d+.*$', out, re.M):
                return m[0]
            if isinstance(pid_or_log, int) and not self.alive(pid_or_log):
                raise GuestError(f'pid {pid_or_log} exited before ready: {out}')
            if time.monotonic() > deadline:
                raise TimeoutError(f'no ready line in {log} after {timeout} s: {out}')
            time.sleep(0.1)

    def alive(self, pid):
        """True while the process exists and is not a zombie."""
        status, out = self.sh(f'cat /proc/{pid}/stat 2>/dev/null')
        return status == 0 and out.rpartition(')')[2].split()[0] not in ('Z', 'X')

    def procs(self):
        """The guest's processes from its own /proc, sorted by pid: dicts with pid, tgid, ppid,
        comm, state (one letter), rss_kb (None where /proc shows no VmRSS: kernel threads,
        zombies), threads, kthread (from PF_KTHREAD in the task flags)."""
        # One cat and one grep for all processes (a fork per process takes seconds under TCG);
        # grep keeps the serial console traffic small. stat gives the task flags.
        out = self.sh("cat /proc/[0-9]*/stat; grep -E '^(Name|State|Tgid|PPid|VmRSS|Threads):'"
                      " /proc/[0-9]*/status")[1]
        flags, status = {}, {}
        for line in out.splitlines():
            if m := re.match(r'/proc/(\d+)/status:(\w+):\s*(.*)$', line):
                status.setdefault(int(m[1]), {})[m[2]] = m[3]
            elif m := re.match(r'(\d+) \(.*\) \S (.*)$', line):
                flags[int(m[1])] = int(m[2].split()[5])
        procs = []
        for pid, s in sorted(status.items()):
            if pid not in flags or 'Threads' not in s:
                continue  # exited while being read
            procs.append({
                'pid': pid, 'tgid': int(s['Tgid']), 'ppid': int(s['PPid']), 'comm': s['Name'],
                'state': s['State'][:1],
                'rss_kb': int(s['VmRSS'].split()[0]) if 'VmRSS' in s else None,
                'threads': int(s['Threads']), 'kthread': bool(flags[pid] & PF_KTHREAD)})
        return procs

    # -- QEMU monitor ------------------------------------------------------------------------

    def monitor(self, cmd, timeout=30):
        """Runs an HMP command on the QEMU monitor; returns its reply text."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(timeout)
            s.connect(self._monitor_path)
            _read_until(s, b'(qemu) ')
            s.sendall(cmd.encode() + b'\n')
            reply = _read_until(s, b'(qemu) ').decode(errors='replace')
        # the monitor echoes the command line, with terminal escapes: drop that first line
        reply = re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '', reply).replace('\r', '')
        return reply.partition('\n')[2].removesuffix('(qemu) ').strip()

    def dump(self, path, timeout=600):
        """Writes an ELF core of guest memory to `path` (HMP dump-guest-memory, synchronous:
        the guest is paused until the file is complete)."""
        path = os.path.abspath(path)
        reply = self.monitor(f'dump-guest-memory {path}', timeout)
        if reply or not os.path.exists(path):
            raise GuestError(f'dump-guest-memory {path}: {reply}')


def _read_until(s, token):
    buf = b''
    while not buf.endswith(token):
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


@atexit.register
def _close_all():
    for g in list(_live):
        g.close()


# -- CLI ---------------------------------------------------------------------------------------

def demo(g):
    g.boot()
    for cmd in ('spinner 2', 'sleeper', 'hog 64', 'sigcatch'):
        pid = g.spawn(cmd)
        g.wait_ready(pid)
        print(f'{cmd}: pid {pid}', file=sys.stderr)
    print(f'RAM={g.ram_path}', flush=True)
    while g.proc.poll() is None:
        time.sleep(1)
    sys.exit(f'QEMU exited\n{g._tail()}')


def interact(g):
    """Connects this terminal to the guest's serial console until Ctrl-] or QEMU's exit."""
    g.boot()
    cols, rows = shutil.get_terminal_size()
    g.check(f'stty cols {cols} rows {rows} </dev/tty')
    print(f'RAM={g.ram_path} (Ctrl-] quits)', flush=True)
    pos = len(g._out)
    g._send('\n')
    old = termios.tcgetattr(0)
    tty.setraw(0)
    try:
        while g.proc.poll() is None:
            if select.select([0], [], [], 0.02)[0]:
                data = os.read(0, 1024)
                if b'\x1d' in data:
                    break
                g._send(data)
            with g._cond:
                chunk, pos = bytes(g._out[pos:]), len(g._out)
            os.write(1, chunk)
    finally:
        termios.tcsetattr(0, termios.TCSADRAIN, old)


def main():
    ap = argparse.ArgumentParser(description='gpufas test guests')
    ap.add_argument('cmd', choices=('demo', 'shell'))
    ap.add_argument('--kver', choices=KVERS, default='6.1')
    ap.add_argument('--mem', type=int, default=512, help='guest RAM in MiB')
    args = ap.parse_args()
    # Unwind through close() on either signal; set SIGINT too, as a shell starts background
    # jobs with it ignored.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(0))
    with Guest(args.kver, mem_mib=args.mem) as g:
        if args.cmd == 'demo':
            demo(g)
        else:
            interact(g)


if __name__ == '__main__':
    main()
