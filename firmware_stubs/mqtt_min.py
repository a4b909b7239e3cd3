"""A minimal MQTT 3.1.1 client: CONNECT (will, login), PUBLISH QoS 0/1, SUBSCRIBE, incoming
PUBLISH QoS 0/1, PING, DISCONNECT.

Shaped exactly like MicroPython's ``umqtt.simple.MQTTClient`` (same methods, same return
values) so the firmware runs unchanged on a board (swap in umqtt) and on the host. Blocking
and single-threaded, as on a microcontroller:

- ``set_callback(f)``: ``f(topic, msg)`` (both bytes) is called for every incoming PUBLISH,
  from inside ``wait_msg``/``check_msg`` — and from inside ``publish``/``subscribe`` while
  they wait for their acknowledgement;
- ``check_msg()`` handles at most one waiting packet and returns None when there is none;
- ``ping()`` only sends PINGREQ; the PINGRESP is read (and swallowed) by ``wait_msg``.
"""

import errno
import socket
import struct


class MQTTException(Exception):
    pass


def _varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def _str(s):
    b = s if isinstance(s, bytes) else s.encode()
    return struct.pack("!H", len(b)) + b


class MQTTClient:
    def __init__(
        self, client_id, server, port=1883, user=None, password=None, keepalive=30, timeout=5.0
    ):
        self.client_id = client_id
        self.server = server
        self.port = port
        self.user = user
        self.password = password
        self.keepalive = keepalive
        #: Longest wait for the rest of a packet (or an acknowledgement) once one started.
        self.timeout = timeout
        self.sock = None
        self.pid = 0
        self.will = None
        self.cb = None

    def set_callback(self, f):
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self.will = (topic, msg, retain, qos)

    def connect(self, clean_session=True):
        """Returns True when the broker kept a session for us (never, with a clean one)."""
        self.sock = socket.create_connection((self.server, self.port), self.timeout)
        flags = 0x02 if clean_session else 0
        payload = _str(self.client_id)
        if self.will:
            topic, msg, retain, qos = self.will
            flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
            payload += _str(topic) + _str(msg)
        if self.user is not None:
            flags |= 0x80
            payload += _str(self.user)
            if self.password is not None:
                flags |= 0x40
                payload += _str(self.password)
        var = _str("MQTT") + bytes([4, flags]) + struct.pack("!H", self.keepalive)
        self._send(0x10, var + payload)
        kind, body = self._read_packet()
        if kind != 0x20 or len(body) != 2:
            raise MQTTException("unexpected reply to CONNECT")
        if body[1] != 0:
            raise MQTTException("connection refused, code %d" % body[1])
        return bool(body[0] & 1)

    def publish(self, topic, msg, retain=False, qos=0):
        """Send a message; with qos=1, block until the broker's PUBACK arrives."""
        msg = msg if isinstance(msg, bytes) else msg.encode()
        header = 0x30 | (qos << 1) | (1 if retain else 0)
        body = _str(topic)
        if qos:
            pid = self._next_pid()
            body += struct.pack("!H", pid)
        self._send(header, body + msg)
        if qos == 1:
            self._wait_for(0x40, pid)

    def subscribe(self, topic, qos=0):
        """Subscribe and block until the SUBACK; raises if the broker refused the filter."""
        pid = self._next_pid()
        self._send(0x82, struct.pack("!H", pid) + _str(topic) + bytes([qos]))
        body = self._wait_for(0x90, pid)
        if body[2:3] == b"\x80":
            raise MQTTException("subscription to %s refused" % topic)

    def ping(self):
        self._send(0xC0, b"")

    def wait_msg(self):
        """Read and handle one packet (blocking). Returns its type, or None for a PINGRESP."""
        kind, body = self._read_packet()
        return self._handle(kind, body)

    def check_msg(self):
        """Like ``wait_msg``, but returns None at once when nothing is waiting."""
        self.sock.setblocking(False)
        try:
            first = self.sock.recv(1)
        except OSError as exc:
            if exc.args and exc.args[0] in (errno.EAGAIN, errno.EWOULDBLOCK):
                return None  # nothing to read
            raise
        finally:
            self.sock.settimeout(self.timeout)
        if not first:
            raise MQTTException("connection closed by broker")
        kind, body = self._read_rest(first[0])
        return self._handle(kind, body)

    def disconnect(self):
        try:
            self._send(0xE0, b"")
        finally:
            self.close()

    def close(self):
        """Drop the socket without DISCONNECT: the broker then publishes the last will."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    # --- internals --------------------------------------------------------------------------

    def _next_pid(self):
        self.pid = self.pid % 65535 + 1
        return self.pid

    def _wait_for(self, kind, pid):
        """Handle packets until the acknowledgement ``kind`` of ``pid``; returns its body."""
        while True:
            got, body = self._read_packet()
            if got == kind and struct.unpack("!H", body[:2])[0] == pid:
                return body
            self._handle(got, body)

    def _handle(self, kind, body):
        if kind == 0xD0:
            return None  # PINGRESP
        if kind == 0x30:
            self._deliver(body)
        return kind

    def _deliver(self, body):
        qos = (self._flags >> 1) & 3
        n = struct.unpack("!H", body[:2])[0]
        topic, rest = body[2 : 2 + n], body[2 + n :]
        if qos:
            pid, rest = struct.unpack("!H", rest[:2])[0], rest[2:]
        if self.cb is not None:
            self.cb(topic, rest)
        if qos == 1:  # acknowledged after the callback handled it
            self._send(0x40, struct.pack("!H", pid))

    def _send(self, header, body):
        if self.sock is None:
            raise MQTTException("not connected")
        self.sock.sendall(bytes([header]) + _varint(len(body)) + body)

    def _read_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise MQTTException("connection closed by broker")
            data += chunk
        return data

    def _read_packet(self):
        return self._read_rest(self._read_exact(1)[0])

    def _read_rest(self, first):
        self._flags = first & 0x0F
        length, shift = 0, 0
        while True:
            byte = self._read_exact(1)[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return first & 0xF0, self._read_exact(length) if length else b""
