"""The remote protocol from Python (stdlib only), for the tests and the benchmark: the same
messages gpufas's viewer sends, so that malformed, replayed and oversized ones can be made on
purpose. libsodium's crypto_generichash is BLAKE2b, keyed or not: the standard library computes
it exactly as libsodium does (auth.c says how it is used)."""
import hashlib
import hmac
import os
import socket
import struct

MAGIC, VERSION = 0x4d524647, 1
HDR = struct.Struct('<IHHIIQii32s')  # struct gf_msg_hdr
REQ = struct.Struct('<iiIIQQ')       # struct gf_request
BEAT = struct.Struct('<QQ')          # struct gf_beat
CHALLENGE, PROOF, WELCOME, HEARTBEAT, SNAPSHOT, PS, LOG, DETECT, SIGNAL = range(1, 10)
ANSWER = 0x8000


def mac(key, data):
    return hashlib.blake2b(data, key=key, digest_size=32).digest()


def derive(psk, label, sn, cn):
    return hashlib.blake2b(label + sn + cn, key=psk, digest_size=32).digest()


def read_key(path):
    return bytes.fromhex(open(path).read().strip())


class Session:
    """One authenticated TCP session with an agent."""

    def __init__(self, port, key, host='127.0.0.1', timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hdr, sn = self.recv()
        assert hdr[2] == CHALLENGE, hdr
        self.board_size = hdr[3]
        cn = os.urandom(32)
        proof = self.header(PROOF, 32, 0) + cn
        self.send_raw(self.sealed(proof, derive(key, b'gpufas proof', sn, cn)))
        self.tx = derive(key, b'gpufas c2s', sn, cn)
        self.rx = derive(key, b'gpufas s2c', sn, cn)
        hdr, body = self.recv()
        if hdr[2] != WELCOME:
            raise PermissionError(body.decode(errors='replace'))
        self.role, self.ntargets = struct.unpack('<II', body)
        self.seq = 0

    def header(self, type_, length, seq, target=0, board_size=None, magic=MAGIC,
               version=VERSION):
        size = self.board_size if board_size is None else board_size
        return HDR.pack(magic, version, type_, size, length, seq, 0, target, bytes(32))

    @staticmethod
    def sealed(msg, key):
        return msg[:32] + mac(key, msg) + msg[64:]

    def send_raw(self, data):
        self.sock.sendall(data)

    def _exact(self, n):
        buf = b''
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError('closed by the agent')
            buf += chunk
        return buf

    def recv(self):
        hdr = HDR.unpack(self._exact(HDR.size))
        return hdr, self._exact(hdr[4])

    def request(self, type_, target=0, pid=0, sig=0, arg=0, beat=0):
        """The sealed bytes of the next request (not sent)."""
        self.seq += 1
        body = REQ.pack(pid, sig, arg, 0, 0, beat)
        return self.sealed(self.header(type_, len(body), self.seq, target) + body, self.tx)

    def call(self, type_, **kw):
        self.send_raw(self.request(type_, **kw))
        hdr, body = self.recv()
        raw = HDR.pack(*hdr[:8], bytes(32)) + body
        assert hmac.compare_digest(mac(self.rx, raw), hdr[8]), 'bad MAC on an answer'
        assert hdr[5] == self.seq and hdr[2] == type_ | ANSWER, hdr
        return hdr, body

    def beat(self, n):
        hdr, body = self.call(HEARTBEAT, beat=n)
        return BEAT.unpack(body)

    def closed(self, timeout=10):
        """True once the agent has closed the connection (EOF or reset) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
            return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()
