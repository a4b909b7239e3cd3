"""A minimal MQTT 3.1.1 client (CONNECT with will and login, PUBLISH QoS 0/1, PING, DISCONNECT).

Shaped like MicroPython's ``umqtt.simple.MQTTClient`` so the firmware runs unchanged on a
board (swap in umqtt) and on the host. Blocking and single-threaded, as on a microcontroller.
"""

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
    def __init__(self, client_id, server, port=1883, user=None, password=None, keepalive=30):
        self.client_id = client_id
        self.server = server
        self.port = port
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.sock = None
        self.pid = 0
        self.will = None

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self.will = (topic, msg, retain, qos)

    def connect(self, timeout=5.0):
        self.sock = socket.create_connection((self.server, self.port), timeout)
        flags = 0x02  # clean session
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

    def publish(self, topic, msg, retain=False, qos=0):
        """Send a message; with qos=1, block until the broker's PUBACK arrives."""
        msg = msg if isinstance(msg, bytes) else msg.encode()
        header = 0x30 | (qos << 1) | (1 if retain else 0)
        body = _str(topic)
        if qos:
            self.pid = self.pid % 65535 + 1
            body += struct.pack("!H", self.pid)
        self._send(header, body + msg)
        if qos == 1:
            while True:
                kind, resp = self._read_packet()
                if kind == 0x40 and struct.unpack("!H", resp)[0] == self.pid:
                    return

    def ping(self):
        self._send(0xC0, b"")
        kind, _ = self._read_packet()
        if kind != 0xD0:
            raise MQTTException("no PINGRESP")

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
        kind = self._read_exact(1)[0] & 0xF0
        length, shift = 0, 0
        while True:
            byte = self._read_exact(1)[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return kind, self._read_exact(length) if length else b""
