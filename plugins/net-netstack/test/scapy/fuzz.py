#!/usr/bin/python3
"""Injects COUNT random and mutated frames on IFACE towards the system under test (SUT_IP,
SUT_MAC), then checks the SUT still serves: a TCP echo through a fresh handshake (scapy) and
UDP echoes. Prints one JSON object: what was sent, by kind, and what answered.

Frames: random bytes; ARP (random operations, addresses, lengths); IPv4 with random
options, fragments (offsets, MF, ids from a small set so that reassembly queues collide),
TTLs, addresses (ours, other hosts', broadcast, the SUT's own), and protocols; TCP with
random flags, sequence numbers, options and data offsets to the listening ports; UDP with
random lengths to the echo port; ICMP with random types and codes. About two thirds carry
correct checksums (so they reach the transport layers); any frame may then be mutated
(bytes flipped, truncated, extended). Every 10,000 frames a UDP echo checks the SUT keeps
up (and paces the injection: the SUT's socket buffer would otherwise overflow).
Afterwards: a UDP echo, and a TCP echo on port 9011 (not a fuzz target) through a fresh
handshake.

Usage: fuzz.py IFACE PEER_IP SUT_IP SUT_MAC COUNT SEED
"""
import json
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer import Conn, Wire, tcp_len  # noqa: E402
from scapy.all import IP, TCP, UDP, Raw  # noqa: E402

ETH_P_ALL = 3


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Gen:
    def __init__(self, seed, peer_ip, sut_ip, sut_mac, peer_mac):
        self.r = random.Random(seed)
        self.peer_ip = socket.inet_aton(peer_ip)
        self.sut_ip = socket.inet_aton(sut_ip)
        self.sut_mac = bytes.fromhex(sut_mac.replace(":", ""))
        self.peer_mac = bytes.fromhex(peer_mac.replace(":", ""))
        self.kinds = {}

    def rb(self, n):
        return self.r.randbytes(n)

    def chance(self, p):
        return self.r.random() < p

    def mac_dst(self):
        x = self.r.random()
        return self.sut_mac if x < 0.85 else b"\xff" * 6 if x < 0.95 else self.rb(6)

    def ip_src(self):
        x = self.r.random()
        if x < 0.6:
            return self.peer_ip
        if x < 0.8:
            return bytes([10, 63, 0, self.r.choice([3, 4, 5, 200, 255, 0])])
        if x < 0.85:
            return self.sut_ip
        return self.rb(4)

    def ip_dst(self):
        x = self.r.random()
        if x < 0.85:
            return self.sut_ip
        return self.r.choice([b"\xff\xff\xff\xff", bytes([10, 63, 0, 255]), bytes([224, 0, 0, 1]), self.rb(4)])

    def eth(self, ethertype, payload):
        return self.mac_dst() + self.peer_mac + struct.pack("!H", ethertype) + payload

    def ipv4(self, proto, payload, src=None, dst=None):
        r = self.r
        opts = b""
        if self.chance(0.15):
            opts = self.rb(4 * r.randint(1, 10))
            if self.chance(0.5):  # plausible options: NOP, EOL, record route, timestamp
                opts = bytes(r.choice([1, 0, 7, 68, 130, 148]) for _ in range(len(opts)))
        ihl = 5 + len(opts) // 4
        frag = 0
        if self.chance(0.15):
            frag = r.randint(0, 0x1FFF) if self.chance(0.3) else r.randint(0, 8)
            frag |= 0x2000 if self.chance(0.6) else 0  # MF
            if self.chance(0.05):
                frag |= 0x8000  # the reserved bit
        elif self.chance(0.3):
            frag = 0x4000  # DF
        total = ihl * 4 + len(payload)
        if self.chance(0.05):
            total = r.randint(0, 0xFFFF)
        ident = r.randint(0, 7) if frag & 0x3FFF else r.randint(0, 0xFFFF)
        h = bytearray(
            struct.pack(
                "!BBHHHBBH4s4s",
                0x40 | ihl if not self.chance(0.02) else r.randint(0, 255),
                r.randint(0, 255) if self.chance(0.1) else 0,
                total & 0xFFFF,
                ident,
                frag,
                r.choice([64, 1, 0, 255]),
                proto,
                0,
                src or self.ip_src(),
                dst or self.ip_dst(),
            )
            + opts
        )
        if self.chance(0.95):
            h[10:12] = struct.pack("!H", csum(bytes(h)))
        return bytes(h) + payload

    def pseudo_sum(self, ip, proto, seg):
        src, dst = ip[12:16], ip[16:20]
        return csum(src + dst + struct.pack("!BBH", 0, proto, len(seg)) + seg)

    def tcp(self):
        r = self.r
        opts = b""
        if self.chance(0.5):
            pieces = []
            for _ in range(r.randint(1, 5)):
                kind = r.choice([0, 1, 2, 3, 4, 5, 8, 30, r.randint(0, 255)])
                if kind in (0, 1):
                    pieces.append(bytes([kind]))
                else:
                    ln = r.choice([0, 1, 2, {2: 4, 3: 3, 4: 2, 5: 10, 8: 10}.get(kind, 6), r.randint(0, 40)])
                    pieces.append(bytes([kind, ln]) + self.rb(max(0, ln - 2)))
            opts = b"".join(pieces)[:40]
            opts += b"\0" * (-len(opts) % 4)
        off = 5 + len(opts) // 4
        if self.chance(0.05):
            off = r.randint(0, 15)
        data = self.rb(r.choice([0, 0, 1, 10, 100, r.randint(0, 1400)]))
        flags = r.randint(0, 0x1FF) if self.chance(0.5) else r.choice([0x02, 0x10, 0x18, 0x11, 0x04, 0x14, 0x12, 0x01])
        dport = r.choice([9001, 9001, 9007, 9008, 9004, r.randint(1, 65535)])
        seg = bytearray(
            struct.pack(
                "!HHIIHHHH",
                r.choice([20000, 20001, r.randint(1, 65535)]),
                dport,
                r.getrandbits(32),
                r.getrandbits(32),
                (off << 12) | flags,
                r.randint(0, 65535),
                0,
                r.randint(0, 65535) if self.chance(0.1) else 0,
            )
            + opts
            + data
        )
        src, dst = self.ip_src(), self.ip_dst()
        pkt = bytearray(self.ipv4(6, bytes(seg), src, dst))
        ihl = (pkt[0] & 15) * 4
        if self.chance(0.7) and len(pkt) >= ihl + 20:
            s = pkt[ihl:]
            s[16:18] = b"\0\0"
            s[16:18] = struct.pack("!H", self.pseudo_sum(pkt, 6, bytes(s)))
            pkt[ihl:] = s
        return self.eth(0x0800, bytes(pkt))

    def udp(self):
        r = self.r
        data = self.rb(r.choice([0, 8, 64, r.randint(0, 1400)]))
        ln = 8 + len(data)
        if self.chance(0.1):
            ln = r.randint(0, 0xFFFF)
        seg = bytearray(struct.pack("!HHHH", r.randint(1, 65535), r.choice([9005, 9005, 53, r.randint(1, 65535)]), ln, 0) + data)
        pkt = bytearray(self.ipv4(17, bytes(seg)))
        ihl = (pkt[0] & 15) * 4
        if self.chance(0.7) and len(pkt) >= ihl + 8:
            s = pkt[ihl:]
            s[6:8] = struct.pack("!H", self.pseudo_sum(pkt, 17, bytes(s)) or 0xFFFF)
            pkt[ihl:] = s
        return self.eth(0x0800, bytes(pkt))

    def icmp(self):
        r = self.r
        t = r.choice([8, 8, 0, 3, 11, 5, 13, r.randint(0, 255)])
        body = bytearray(struct.pack("!BBHI", t, r.randint(0, 16), 0, r.getrandbits(32)) + self.rb(r.choice([0, 8, 28, 56, r.randint(0, 1400)])))
        if self.chance(0.7):
            body[2:4] = struct.pack("!H", csum(bytes(body)))
        return self.eth(0x0800, self.ipv4(1, bytes(body)))

    def arp(self):
        r = self.r
        op = r.choice([1, 2, r.randint(0, 65535)])
        spa = bytes([10, 63, 0, r.choice([3, 4, 5, 0, 255, r.randint(3, 254)])]) if self.chance(0.9) else self.rb(4)
        tpa = self.sut_ip if self.chance(0.7) else self.rb(4)
        hlen, plen = (6, 4) if self.chance(0.9) else (r.randint(0, 255), r.randint(0, 255))
        body = struct.pack("!HHBBH", 1 if self.chance(0.9) else r.randint(0, 65535), 0x0800, hlen, plen, op)
        body += self.rb(6) + spa + (b"\0" * 6 if self.chance(0.5) else self.rb(6)) + tpa
        if self.chance(0.1):
            body = body[: r.randint(0, len(body))]
        return self.eth(0x0806, body)

    def other_ip(self):
        return self.eth(0x0800, self.ipv4(self.r.choice([0, 2, 4, 41, 47, 50, 132, 255]), self.rb(self.r.randint(0, 200))))

    def junk(self):
        et = self.r.choice([0x0800, 0x0806, 0x86DD, 0x8100, self.r.randint(0, 0xFFFF)])
        return self.eth(et, self.rb(self.r.randint(0, 1500)))

    def frame(self):
        r = self.r
        kind = r.choices(
            ["tcp", "udp", "icmp", "arp", "other-ip", "junk"],
            weights=[40, 20, 10, 10, 5, 15],
        )[0]
        f = bytearray(getattr(self, kind.replace("-", "_"))())
        if self.chance(0.25):  # mutate
            kind += "+mutated"
            for _ in range(r.randint(1, 8)):
                i = r.randrange(12, len(f)) if len(f) > 12 else 0
                f[i] = r.randint(0, 255)
            if self.chance(0.2):
                del f[r.randint(14, len(f)) :]
            elif self.chance(0.2):
                f += self.rb(r.randint(1, 100))
        f = bytes(f[:1514])
        if len(f) < 14:
            f += b"\0" * (14 - len(f))
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        return f


def udp_echo(w, tag, timeout, tries=3):
    """A UDP datagram to the echo port, sent again (up to `tries` times) when no echo comes
    within `timeout` (the app's socket buffer may be full of fuzz datagrams, which Linux
    drops too); True when it comes back."""
    body = tag.encode()
    for _ in range(tries):
        w.send_raw(w.eth() / w.ipv4() / UDP(sport=20999, dport=9005) / Raw(body))
        e = w.recv(lambda e: UDP in e and e[UDP].dport == 20999 and bytes(e[UDP].payload)[: len(body)] == body, timeout)
        if e is not None:
            return True
    return False


def main():
    iface, peer_ip, sut_ip, sut_mac, count, seed = sys.argv[1:]
    count, seed = int(count), int(seed)
    w = Wire(iface, peer_ip, sut_ip)
    w.sut_mac = sut_mac
    g = Gen(seed, peer_ip, sut_ip, sut_mac, w.mac)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    marks, errors, sent = [], 0, 0
    t0 = time.monotonic()
    for i in range(count):
        f = g.frame()
        try:
            s.send(f)
            sent += 1
        except OSError:
            errors += 1  # e.g. a frame the kernel refuses to send (counted, not injected)
        if i % 250 == 249:
            time.sleep(0.004)  # pace: about 50,000 frames/s at most
            w.drain(0)  # what the SUT answers is not looked at
        if i % 10000 == 9999:
            marks.append(udp_echo(w, f"mark {i + 1}", 3.0))
    fuzz_secs = time.monotonic() - t0
    time.sleep(0.5)
    w.drain(0.1)
    after = {"udp echo": udp_echo(w, "after the fuzz", 3.0)}
    # On 9011, which the fuzz leaves alone: its SYNs from unresolvable sources fill the SYN
    # queues of the ports it targets for a minute (answered with cookies from then on).
    c = Conn(w, 9011, 20500)
    syn = c.connect()
    after["tcp handshake"] = syn
    if c.base is not None:
        c.send("PA", 0, b"hello after the fuzz\n")
        got = b""
        end = time.monotonic() + 10
        while time.monotonic() < end and len(got) < 21:
            e = c.recv(end - time.monotonic(), data_only=True)
            if e is not None:
                got += bytes(e[TCP].payload)[: tcp_len(e)]
        after["tcp echo"] = got.decode(errors="replace")
        c.send("R", 21, ack=len(got))
    print(
        json.dumps(
            {
                "seed": seed,
                "sent": sent,
                "send errors": errors,
                "kinds": g.kinds,
                "fuzz seconds": round(fuzz_secs, 1),
                "marks echoed": sum(marks),
                "marks": len(marks),
                "after": after,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
