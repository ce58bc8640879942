#!/usr/bin/env python3
"""Records the RAM fuzz targets' real-kernel seeds (make fuzz-record): boots each guest of
KERNELS as the test suites do (test/guest.py), starts a 2-thread spinner, a sleeper and
sigcatch, pauses the guest and runs test/fuzz/bin/record on its RAM file, which writes
test/fuzz/corpus/fuzz_ram/linux-KVER-processes and -threads (the spinner looked up and
signalled). Usage: test/fuzz/record.py [KVER...]"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'test'))
from guest import Guest  # noqa: E402

KERNELS = ('6.1', '6.12')
OUT = ROOT / 'test' / 'fuzz' / 'corpus' / 'fuzz_ram'


def record(kver):
    with Guest(kver) as g:
        g.boot()
        spinner = g.spawn('spinner 2')
        for pid in (spinner, g.spawn('sleeper'), g.spawn('sigcatch')):
            g.wait_ready(pid)
        g.monitor('stop')
        subprocess.run([str(ROOT / 'test' / 'fuzz' / 'bin' / 'record'), f'vm:{g.ram_path}',
                        str(spinner), str(OUT / f'linux-{kver}')], check=True)


def main():
    for kver in sys.argv[1:] or KERNELS:
        record(kver)


if __name__ == '__main__':
    main()
