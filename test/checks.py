"""The checks' bookkeeping, shared by the suites: one line per check, and the closing
`N passed, N failed, N skipped` line that CI reads; and the one way they end a process."""
import os
import shutil
import subprocess
import sys
import time

results = []  # True or False per check run
skipped = []
only = ''     # from -k SUBSTRING: run only the checks whose names hold it


def end(proc, timeout=10):
    """SIGTERM, then SIGKILL after timeout seconds; the exit status."""
    proc.terminate()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


class Skip(Exception):
    """A check that cannot run here; its message says why."""


def parse_args():
    global only
    if len(sys.argv) == 3 and sys.argv[1] == '-k':
        only = sys.argv[2]


def check(name, fn, *args):
    """Runs one check; a failed assertion or any exception fails it."""
    if only and only not in name:
        return
    t0 = time.monotonic()
    try:
        fn(*args)
        results.append(True)
        print(f'ok    {name} ({time.monotonic() - t0:.1f} s)', flush=True)
    except Skip as e:
        skip(name, str(e))
    except Exception as e:  # report and go on with the next check
        fail(name, e)


def skip(name, why):
    if not only or only in name:
        skipped.append(name)
        print(f'skip  {name}: {why}', flush=True)


def fail(name, error):
    """A failure outside any one check (a guest that did not boot, say)."""
    results.append(False)
    print(f'FAIL  {name}: {type(error).__name__}: {error}', flush=True)


def summary():
    """Prints the closing line; returns the exit status."""
    passed = sum(results)
    print(f'{passed} passed, {len(results) - passed} failed, {len(skipped)} skipped')
    return 0 if passed == len(results) else 1


def run_kernels(kvers, per_kernel, gpufas, tmp):
    """per_kernel(kver) for each guest kernel, a guest that cannot be built or booted counting
    as one failure; then tmp removed, the time taken and the summary. The exit status."""
    parse_args()
    t0 = time.monotonic()
    try:
        assert os.access(gpufas, os.X_OK), 'build ./gpufas first (make)'
        for kver in kvers:
            try:
                per_kernel(kver)
            except Exception as e:  # the guest itself (build, boot)
                fail(f'{kver} guest', e)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f'      ({time.monotonic() - t0:.0f} s)')
    return summary()
