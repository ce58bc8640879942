#!/usr/bin/env python3
"""make bench-remote: round trips of the remote protocol against the floor of each transport,
measured in the same run, printed as a markdown table (min / median / p99 in ms, and the
ratio of medians to the floor).

TCP on loopback: `gpufas --view --rtt=N` (heartbeat, then snapshot: the agent's published board)
against test/echo, a plain TCP round trip of the same request and answer sizes with no protocol
and no MAC. The agent watches no live guest here (its board has the same size either way, and a
guest's QEMU would share the 2 cores with the measurement).

RDMA over Soft-RoCE, in one 6.1 guest (test_rdma.py's): the same --rtt in the guest against an
agent watching the guest itself, and perftest on the same rxe device (connections through
rdma_cm, -R). Two floors: GRASS's, ib_write_lat + ib_read_lat (a write's one-way latency plus a
read's round trip); and the stricter one-sided floor, two ib_read_lat round trips (the request's
signaled WRITE waits for its ACK, a round trip with no remote CPU like a READ's, then one READ
fetches the answer). Under single-threaded TCG, ib_write_lat's ping-pong needs both polling
processes scheduled in turn, which dominates its figure.

Usage: test/bench_remote.py [--runs N] [--skip-rdma]
"""
import argparse
import math
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import remote_client as rc

TOP = Path(__file__).resolve().parent.parent
GPUFAS = str(TOP / 'gpufas')
ECHO = str(TOP / 'test' / 'echo')
RTT = re.compile(r'^(\w+)\s+n=\d+ min ([\d.]+) median ([\d.]+) p99 ([\d.]+) ms$', re.M)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def row(name, got, floor=None):
    """A floor perftest could not measure (it printed inf under TCG) leaves the ratio blank."""
    usable = floor is not None and math.isfinite(floor)
    ratio = f'{got[1] / floor:.2f}' if usable else ''
    floor_text = f'{floor:.3f}' if usable else ('n/a' if floor is not None else '')
    print(f'| {name} | {got[0]:.3f} | {got[1]:.3f} | {got[2]:.3f} | {floor_text} | {ratio} |',
          flush=True)


def rtts(text):
    return {m[1]: tuple(map(float, m.groups()[1:])) for m in RTT.finditer(text)}


def tcp(runs):
    import test_remote as tr  # its keys and Agent
    agent = tr.Agent('vm:/nonexistent', config='')
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                s = rc.Session(agent.port, rc.read_key(tr.OP_KEY))
                break
            except OSError:
                assert time.monotonic() < deadline, agent.log()
                time.sleep(0.2)
        answer = {'heartbeat': rc.HDR.size + rc.BEAT.size, 'snapshot': rc.HDR.size + s.board_size}
        s.close()
        out = subprocess.run([GPUFAS, '--view', agent.spec, '--key', tr.OP_KEY, f'--rtt={runs}'],
                             capture_output=True, text=True, check=True).stdout
        ours = rtts(out)
    finally:
        agent.stop()
    port = free_port()
    echo = subprocess.Popen([ECHO, 'serve', str(port)], stdout=subprocess.PIPE, text=True)
    try:
        echo.stdout.readline()
        for what in ('heartbeat', 'snapshot'):
            floor = subprocess.run([ECHO, 'ping', str(port), str(runs), '96', str(answer[what])],
                                   capture_output=True, text=True, check=True).stdout
            f = rtts('echo ' + floor)['echo']
            row(f'TCP {what} ({answer[what]} B answer)', ours[what], f[1])
            row(f'TCP echo floor, same sizes', f)
    finally:
        echo.kill()
        echo.wait()


def perftest(g, tool, size, runs):
    """One perftest latency run on rxe0 in the guest: (min, typical, p99) in ms."""
    args = f'{tool} -d rxe0 -x 1 -F -R -n {runs} -s {size}'
    server = g.spawn(args)
    deadline = time.monotonic() + 120
    while True:  # the server listens once it has set up its device: slow under TCG
        time.sleep(3)
        status, out = g.sh(f'timeout 120 {args} 10.0.2.15', timeout=300)
        if status == 0:
            break
        assert time.monotonic() < deadline and g.alive(server), out
    g.sh(f'kill {server} 2>/dev/null')
    line = [l for l in out.splitlines() if re.match(rf'\s*{size}\s+{runs}\s', l)][-1].split()
    # bytes iterations t_min t_max t_typical t_avg t_stdev 99% 99.9%
    return float(line[2]) / 1000, float(line[4]) / 1000, float(line[7]) / 1000


def rdma(runs):
    import test_rdma as trd
    with trd.rxe_guest() as g:
        trd.start_agent(g)
        ours = rtts(g.check(f'gpufas --view {trd.SPEC} --key /root/op.key --rtt={runs}',
                            timeout=600))
        write = perftest(g, 'ib_write_lat', 96, runs)
        read_small = perftest(g, 'ib_read_lat', 512, runs)
        read_board = perftest(g, 'ib_read_lat', 28672, runs)
        row('RDMA heartbeat vs ib_write_lat + ib_read_lat', ours['heartbeat'],
            write[1] + read_small[1])
        row('RDMA heartbeat vs 2 x ib_read_lat', ours['heartbeat'], 2 * read_small[1])
        row('RDMA snapshot vs ib_write_lat + ib_read_lat 28 KiB', ours['snapshot'],
            write[1] + read_board[1])
        row('RDMA snapshot vs ib_read_lat 512 B + 28 KiB', ours['snapshot'],
            read_small[1] + read_board[1])
        row('ib_write_lat 96 B', write)
        row('ib_read_lat 512 B', read_small)
        row('ib_read_lat 28 KiB', read_board)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runs', type=int, default=2000)
    ap.add_argument('--skip-rdma', action='store_true')
    args = ap.parse_args()
    print('| measure | min ms | median ms | p99 ms | floor median ms | ratio |')
    print('|---|---|---|---|---|---|')
    tcp(args.runs)
    if not args.skip_rdma:
        rdma(min(args.runs, 1000))


if __name__ == '__main__':
    sys.exit(main())
