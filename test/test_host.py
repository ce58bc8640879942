#!/usr/bin/env python3
"""gpufas --target host inside a QEMU guest: the rescue binary on the box it rescues.

The guest (a Debian cloud kernel under TCG, KASLR on) boots with kmod/gpufas_pmem.ko, built
against Debian's headers of exactly its kernel (test/build-kmod.sh), ./gpufas and the shared
libraries it loads, all added to its initramfs. Inside the guest gpufas reads the guest's own
physical memory through /proc/kcore, then through the module; its answers are compared with the guest's /proc, and the
guest kernel is watched delivering the signal gpufas wrote. Prints one line per check and, last,
`N passed, N failed, N skipped`. Usage: test/test_host.py [-k SUBSTRING]
"""
import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from checks import check
from guest import Guest
import checks
import test_guest as tg  # check_ps and its helpers, reused

TOP = Path(__file__).resolve().parent.parent
GPUFAS = str(TOP / 'gpufas')
BUILD_KMOD = str(TOP / 'test' / 'build-kmod.sh')
TMP = Path(tempfile.mkdtemp(prefix='gpufas-host-'))
KO = '/root/gpufas_pmem.ko'  # where the module lies in the guest
KVERS = ('6.1', '6.12')
STALL_S = 120  # how long the guest's shell may starve while the hog fills its RAM
ATTACH_S = 240  # a generous bound on one gpufas run in a TCG guest (seen: under 1 s)


def shared_libs(binary):
    """The libraries `ldd` says the binary loads, the dynamic loader included, at its paths."""
    out = subprocess.run(['ldd', binary], capture_output=True, text=True, check=True).stdout
    return [m[1] for line in out.splitlines() if (m := re.search(r'(/\S+) \(0x', line))]


def extra_initrd(g):
    """Builds a gzipped cpio with the module built for g's kernel, ./gpufas and its libraries,
    and hands it to g; returns how long the module took (headers download and build, or the
    cache)."""
    t0 = time.monotonic()
    ko = subprocess.run([BUILD_KMOD, str(g.kernel)], capture_output=True, text=True)
    assert ko.returncode == 0, f'build-kmod.sh: {ko.stderr.strip()}'
    took = time.monotonic() - t0
    root = TMP / f'extra-{g.kver}'
    files = {KO: ko.stdout.strip(), '/bin/gpufas': GPUFAS}
    files.update({lib: lib for lib in shared_libs(GPUFAS)})
    for dst, src in files.items():
        (root / dst[1:]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, root / dst[1:])  # the file itself where src is a link (/lib64/ld-...)
    cpio = TMP / f'extra-{g.kver}.cpio.gz'
    subprocess.run(f'find . | cpio -o -H newc -R 0:0 --quiet | gzip -1 >{cpio}', shell=True,
                   cwd=root, check=True)
    shutil.rmtree(root)
    g.extra_initrd = cpio
    return took


# ---- gpufas in the guest --------------------------------------------------------------------

def gpufas_in(g, *args, timeout=ATTACH_S):
    """Runs gpufas inside the guest; returns (exit status, stdout, stderr, its pid)."""
    rc = g.sh(f"sh -c 'echo $$ >/tmp/gf.pid; exec gpufas {' '.join(args)}' "
              f'>/tmp/gf.out 2>/tmp/gf.err', timeout)[0]
    return rc, g.sh('cat /tmp/gf.out')[1], g.sh('cat /tmp/gf.err')[1], \
        int(g.check('cat /tmp/gf.pid'))


def expect_error(g, args, *needles):
    """A clear one-line error, exit code 1 (a "gpufas: note:" line, such as which engine runs,
    is no error)."""
    rc, out, err, _ = gpufas_in(g, *args)
    lines = [line for line in err.strip().splitlines() if 'gpufas: note:' not in line]
    assert rc == 1, f'exit {rc} for {args}: {err.strip()} {out.strip()}'
    assert len(lines) == 1, f'want one stderr line for {args}, got {lines}'
    for needle in needles:
        assert needle in lines[0], f'{needle!r} not in {lines[0]!r}'
    return lines[0]


@contextlib.contextmanager
def snapshots_in_guest(g):
    """test_guest.check_ps takes its snapshot with gpufas_json(--target vm:RAM --ps) on this
    machine; here gpufas --target host takes it inside the guest. gpufas itself is left out:
    it is born after check_ps's first look at /proc and gone before its second."""
    def snapshot(*args, **_engine):
        assert args == ('--target', f'vm:{g.ram_path}', '--ps'), args
        rc, out, err, pid = gpufas_in(g, '--target', 'host', '--ps', '--json')
        assert rc == 0, f'gpufas --ps exited {rc}: {err}'
        return [p for p in json.loads(out) if p['pid'] != pid]
    saved, tg.gpufas_json = tg.gpufas_json, snapshot
    try:
        yield
    finally:
        tg.gpufas_json = saved


# ---- checks ---------------------------------------------------------------------------------

def settle_rng(g, timeout=60):
    """Waits until the guest kernel's RNG is ready. Becoming ready, the kernel patches its own
    code (the static key crng_is_ready), and under TCG a vCPU that runs into a site being
    patched can die of an int3 oops (seen in crng_make_state mid-test, and at boot in
    sched_clock_cpu with no module loaded: a TCG flake, not gpufas's). Counted interrupts make
    the RNG ready: serial traffic brings it within seconds, so it happens before any check."""
    deadline = time.monotonic() + timeout
    while g.sh('dmesg | grep -q "crng init done"')[0]:
        assert time.monotonic() < deadline, 'the guest RNG never became ready'
        g.sh('head -c 16384 /proc/kallsyms')

def system_ram(g):
    """The guest's top-level System RAM ranges, (first, last) byte."""
    out = g.check("grep '^[0-9a-f].* : System RAM$' /proc/iomem")
    return [tuple(int(x, 16) for x in line.split()[0].split('-')) for line in out.splitlines()]


def check_no_access(g):
    """Debian sets CONFIG_STRICT_DEVMEM: /dev/mem refuses RAM, and with no module and no
    /proc/kcore (hidden under /dev/null) gpufas says what to do, in one line."""
    ram = system_ram(g)
    status, out = g.sh(f'devmem {ram[-1][0] + (16 << 20):#x}')  # busybox devmem: an mmap
    assert status != 0, f'/dev/mem let RAM through: {out}'
    print(f'      busybox devmem of RAM: {out}')
    g.check('mount -o bind /dev/null /proc/kcore')
    try:
        line = expect_error(g, ['--target', 'host', '--ps'], 'kmod/gpufas_pmem.ko',
                            '/dev/mem refuses RAM', '/proc/kcore')
    finally:
        g.check('umount /proc/kcore')
    print(f'      {line}')


def check_kcore_reads(g):
    """No module: a stock kernel's /proc/kcore is read, never written: --info, --ps (against
    /proc), --log and --detect answer; --kill says why it cannot."""
    check_info(g)
    check_ps(g)
    rc, out, err, _ = gpufas_in(g, '--target', 'host', '--log=5')
    assert rc == 0 and out.startswith('['), f'--log: {rc} {out} {err}'
    rc, out, err, _ = gpufas_in(g, '--target', 'host', '--detect', '--json')
    assert rc == 0 and json.loads(out), f'--detect: {rc} {out} {err}'
    pid = g.spawn('sleeper')
    g.wait_ready(pid)
    line = expect_error(g, ['--target', 'host', '--kill', str(pid)], 'read-only', '/proc/kcore')
    print(f'      {line}')
    assert g.alive(pid), 'the sleeper died'
    g.check(f'kill {pid}')


def check_kcore_agent(g):
    """The headless agent on /proc/kcore: it attaches read-only and samples the metrics."""
    agent = g.spawn('gpufas --agent --headless --engine cpu --target host --events /tmp/kev.jsonl')
    try:
        tg.wait_for(lambda: '"event":"metrics"' in g.sh('cat /tmp/kev.jsonl')[1], ATTACH_S,
                    'the agent to sample')
    finally:
        g.sh(f'kill {agent}; wait {agent}')
    events = [json.loads(line) for line in g.check('cat /tmp/kev.jsonl').splitlines()]
    attach = [e for e in events if e['event'] == 'attach']
    assert attach and attach[0]['mode'] == 'read-only' and attach[0]['metrics'], attach
    metrics = [e for e in events if e['event'] == 'metrics']
    assert metrics[0]['processes'] > 20, metrics[0]


def check_load(g):
    g.check(f'insmod {KO}')
    assert g.check('stat -c "%a %u %F" /dev/gpufas_pmem') == '600 0 character special file'
    assert g.check('cat /sys/module/gpufas_pmem/parameters/write') == 'N'
    assert 'read-only' in g.check('dmesg | grep "gpufas_pmem: System RAM"')


def check_load_twice(g):
    status, out = g.sh(f'insmod {KO}')
    assert status != 0, 'a second insmod succeeded'
    assert g.check('lsmod | grep -c "^gpufas_pmem "') == '1'
    print(f'      second insmod: {out}')


def probe(g, args, want):
    out = g.sh(f'pmemprobe {args}')[1]
    assert out.startswith(want), f'pmemprobe {args}: {out!r}, want {want!r}'


def check_ram_only(g, writable):
    """What the module lets through: System RAM pages, shared, to root with CAP_SYS_RAWIO;
    writable only when loaded with write=1."""
    ram = system_ram(g)
    first, last = ram[-1]
    end = (last + 1) & ~0xfff
    EPERM, EACCES, EINVAL = 'mmap: Operation not permitted', 'open: Permission denied', \
        'mmap: Invalid argument'
    cases = [
        (f'{first:#x} 4096', 'ok'),
        (f'{first:#x} {end - first:#x}', 'ok'),  # the whole range at once
        ('0 4096', EPERM),  # page 0: firmware, "Reserved"
        ('0xa0000 4096', EPERM),  # the VGA hole
        ('0xfee00000 4096', EPERM),  # the local APIC's registers
        (f'{end - 4096:#x} 8192', EPERM),  # the last page of RAM and the one after it
        (f'{1 << 40:#x} 4096', EPERM),  # far beyond RAM
        (f'-p {first:#x} 4096', EINVAL),  # a private mapping
        (f'-r {first:#x} 4096', 'read: Invalid argument'),  # no read()
        (f'-n {first:#x} 4096', 'open: Operation not permitted'),  # no CAP_SYS_RAWIO
        (f'-u {first:#x} 4096', EACCES),  # not root: the node is 0600
        (f'-w {first:#x} 4096', 'ok' if writable else EACCES),
    ]
    for args, want in cases:
        probe(g, args, want)


def check_info(g):
    rc, out, err, _ = gpufas_in(g, '--target', 'host', '--info', '--json')
    assert rc == 0, err
    info = json.loads(out)
    assert info['release'] == g.check('uname -r'), info
    assert info['cpus'] == int(g.check('nproc')), info
    assert int(info['kaslr_offset'], 16) != 0, info
    print(f'      attach inside the guest (TCG): {info["attach_ms"]:.0f} ms')


def check_ps(g):
    with snapshots_in_guest(g):
        tg.check_ps(g)


def check_kill_read_only(g):
    """--kill opens for writing; a read-only module makes that a clear refusal."""
    pid = g.spawn('sleeper')
    g.wait_ready(pid)
    line = expect_error(g, ['--target', 'host', '--kill', str(pid)], 'read-only')
    assert 'write=1' in line, f'the refusal should say how to allow writing: {line}'
    print(f'      {line}')
    rc, out, err, _ = gpufas_in(g, '--target', 'host', '--kill', str(pid), '--dry-run')
    assert rc == 0 and 'would send SIGKILL' in out, f'--dry-run: {rc} {out} {err}'
    time.sleep(1)
    assert g.alive(pid), 'the sleeper died'
    g.check(f'kill {pid}')


def check_reload_writable(g):
    g.check('rmmod gpufas_pmem')
    g.check(f'insmod {KO} write=1')
    assert g.check('cat /sys/module/gpufas_pmem/parameters/write') == 'Y'


def check_kill_spinner(g):
    """SIGKILL of a 4-thread spinner by gpufas in the same guest: the kernel ends every thread
    and the parent sees death by signal 9 (exit status 137)."""
    g.spawn("sh -c 'spinner 4; echo status=$? >/tmp/spinner.status'")
    tg.wait_for(lambda: g.sh('pidof spinner')[0] == 0, 30, 'spinner to start')
    pid = int(g.check('pidof spinner'))
    rc, out, err, _ = gpufas_in(g, '--target', 'host', '--kill', str(pid))
    assert rc == 0 and '4 threads' in out, f'{rc} {out} {err}'
    tg.wait_for(lambda: g.sh('cat /tmp/spinner.status')[0] == 0, 60, 'spinner to die')
    assert g.check('cat /tmp/spinner.status') == 'status=137'


def check_kill_hog(g):
    """The 32 MiB hog started with the guest, listed with its RSS, then killed."""
    pid = int(g.check('pidof hog'))
    rc, out, err, _ = gpufas_in(g, '--target', 'host', '--ps', '--json')
    assert rc == 0, err
    hog = [p for p in json.loads(out) if p['pid'] == pid]
    assert hog and hog[0]['rss_kb'] >= 32 << 10, f'hog in ps: {hog}'
    rc, out, err, _ = gpufas_in(g, '--target', 'host', '--kill', str(pid))
    assert rc == 0, f'{rc} {out} {err}'
    tg.wait_for(lambda: not g.alive(pid), 60, 'hog to die')


def check_agent_kills_hog(g):
    """The headless agent inside the guest, on its own RAM: a hog that outgrows RAM (no swap)
    is killed by the signal the agent writes, the bystander lives, and the agent, which runs
    in the target it watches, neither picks itself nor dies."""
    bystander = g.spawn('sleeper')
    g.wait_ready(bystander)
    agent = g.spawn('gpufas --agent --headless --engine cpu --target host --events /tmp/ev.jsonl')
    try:
        tg.wait_for(lambda: '"attach"' in g.sh('cat /tmp/ev.jsonl')[1], ATTACH_S,
                    'the agent to attach')
        # the shell keeps the status for us: the interactive one forgets a job it reported
        g.spawn("sh -c 'hog 4000 100 & echo $! >/tmp/hog.pid; wait $!; echo $? >/tmp/hog.status'")
        tg.wait_for(lambda: g.sh('cat /tmp/hog.pid')[0] == 0, 30, 'the hog to start')
        hog = int(g.check('cat /tmp/hog.pid'))
        # the guest's own shell may stall while memory runs out: it is not what is tested
        tg.wait_for(lambda: g.sh('cat /tmp/hog.status', timeout=STALL_S)[0] == 0, STALL_S,
                    'the hog to die')
        events = [json.loads(line) for line in g.check('cat /tmp/ev.jsonl').splitlines()]
        actions = [e for e in events if e['event'] == 'action']
        assert len(actions) == 1 and actions[0]['pid'] == hog, actions
        assert actions[0]['signal'] == 'SIGKILL', actions
        print(f'      killed as {actions[0]["class"]}')
        status = g.check('cat /tmp/hog.status')
        assert status == '137', f'hog exit status {status!r}'
        assert g.alive(bystander) and g.alive(agent), 'the bystander or the agent died'
    finally:
        g.sh(f'kill {agent} {bystander}; wait {agent}')


def check_unload(g):
    """With the module gone, --kill falls back on /proc/kcore and says it cannot write."""
    g.check('rmmod gpufas_pmem')
    assert g.sh('test -e /dev/gpufas_pmem')[0] != 0, '/dev/gpufas_pmem outlived the module'
    pid = g.spawn('sleeper')
    g.wait_ready(pid)
    expect_error(g, ['--target', 'host', '--kill', str(pid)], 'read-only', '/proc/kcore',
                 'kmod/gpufas_pmem.ko write=1')
    assert g.alive(pid), 'the sleeper died'
    g.check(f'kill {pid}')


def host_checks(kver):
    g = Guest(kver)
    try:
        g._ensure_built()  # the kernel image first: the module is built for it
        took = extra_initrd(g)
        print(f'      {kver}: module ready in {took:.1f} s (headers download and build, or cache)')
        g.boot()
        settle_rng(g)
        for prog in ('spinner 2', 'sleeper 3', 'hog 32'):
            g.wait_ready(g.spawn(prog))
        check(f'{kver} no module, no kcore: /dev/mem refuses RAM, clear error',
              check_no_access, g)
        check(f'{kver} no module: /proc/kcore read, never written', check_kcore_reads, g)
        check(f'{kver} no module: headless agent on /proc/kcore', check_kcore_agent, g)
        check(f'{kver} module loads read-only, node 0600 root', check_load, g)
        check(f'{kver} module refuses to load twice', check_load_twice, g)
        check(f'{kver} read-only module maps System RAM only', check_ram_only, g, False)
        check(f'{kver} info inside the guest', check_info, g)
        check(f'{kver} ps inside the guest matches /proc', check_ps, g)
        check(f'{kver} read-only module: --kill refused cleanly', check_kill_read_only, g)
        g.check(f'kill {g.check("pidof spinner")}')
        check(f'{kver} module reloads with write=1', check_reload_writable, g)
        check(f'{kver} writable module maps System RAM only', check_ram_only, g, True)
        check(f'{kver} SIGKILL 4-thread spinner from inside', check_kill_spinner, g)
        check(f'{kver} SIGKILL memory hog from inside', check_kill_hog, g)
        check(f'{kver} headless agent (CPU engine) kills a memory hog', check_agent_kills_hog, g)
        check(f'{kver} rmmod: back to /proc/kcore, read-only', check_unload, g)
    finally:
        g.close()


def main():
    return checks.run_kernels(KVERS, host_checks, GPUFAS, TMP)


if __name__ == '__main__':
    sys.exit(main())
