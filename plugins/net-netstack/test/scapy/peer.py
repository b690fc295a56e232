#!/usr/bin/python3
"""A scapy peer for edge cases: it speaks from an address no kernel owns (answering ARP
itself) on one end of a veth, to server.py on the other end, and prints one JSON object:
{scenario: [lines]}, each line what the system under test (SUT) sent back, normalised so
that Linux and tsvisor's stack can be compared line for line:
  - sequence numbers relative to the SUT's ISN + 1, acknowledgments and SACK blocks
    relative to ours + 1;
  - the window only as 0 or >0 (Linux sizes it from its buffers);
  - PSH left out (where a sender sets it is its own heuristic, RFC 9293 3.9.1);
  - SYN-ACK options as present/absent (values depend on buffers and MTU);
  - IP ids and TTLs ignored;
  - in the RST probes, the SUT's retransmissions of data or a FIN the peer already saw
    left out (whether one comes first depends on how fast the peer answered).
Usage: peer.py IFACE PEER_IP SUT_IP SCENARIO...   (scenario "all" runs every one)
"""
import json
import queue
import socket
import sys
import threading
import time

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw, conf

conf.verb = 0
ETH_P_ALL = 3
PACKET_OUTGOING = 4
PEER_MAC = "02:63:00:00:00:01"
MOD = 1 << 32


class Wire:
    """The raw socket on the interface; a thread answers ARP and queues the SUT's IPv4."""

    def __init__(self, iface, ip, sut_ip):
        self.ip, self.sut_ip, self.mac = ip, sut_ip, PEER_MAC
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.s.bind((iface, 0))
        self.q = queue.Queue()
        self.sut_mac = None
        self.arp_seen = threading.Event()
        threading.Thread(target=self.rx, daemon=True).start()

    def rx(self):
        while True:
            data, addr = self.s.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:
                continue
            e = Ether(data)
            if ARP in e:
                a = e[ARP]
                if a.op == 1 and a.pdst == self.ip:
                    self.send_raw(
                        Ether(src=self.mac, dst=a.hwsrc)
                        / ARP(op=2, hwsrc=self.mac, psrc=self.ip, hwdst=a.hwsrc, pdst=a.psrc)
                    )
                if a.psrc == self.sut_ip:
                    self.sut_mac = a.hwsrc
                    self.arp_seen.set()
            elif IP in e and e[IP].src == self.sut_ip:
                self.q.put(e)

    def send_raw(self, frame):
        self.s.send(bytes(frame))

    def resolve(self):
        for _ in range(50):
            self.send_raw(
                Ether(src=self.mac, dst="ff:ff:ff:ff:ff:ff")
                / ARP(op=1, hwsrc=self.mac, psrc=self.ip, pdst=self.sut_ip)
            )
            if self.arp_seen.wait(0.2):
                return
        raise SystemExit(f"peer: no ARP answer from {self.sut_ip}")

    def eth(self):
        return Ether(src=self.mac, dst=self.sut_mac)

    def ipv4(self, **kw):
        return IP(src=self.ip, dst=self.sut_ip, **kw)

    def recv(self, match, timeout):
        """The next queued frame `match` accepts (others are dropped), or None."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                e = self.q.get(timeout=left)
            except queue.Empty:
                return None
            if match(e):
                return e

    def drain(self, secs=0.05):
        time.sleep(secs)
        while not self.q.empty():
            self.q.get_nowait()


def tcp_len(e):
    """The TCP payload's length from the IP header (frames may carry Ethernet padding)."""
    return e[IP].len - e[IP].ihl * 4 - e[TCP].dataofs * 4


def lines(c, got):
    return " | ".join(c.describe(e) for e in got) or "nothing"


class Conn:
    """One TCP connection from the peer (sport) to the SUT (dport)."""

    def __init__(self, w, dport, sport, iss=None):
        self.w, self.dport, self.sport = w, dport, sport
        self.iss = iss if iss is not None else (0x1000000 * (sport % 200) + 12345) % MOD
        self.base = None  # the SUT's ISN + 1
        self.sent_by_sut = set()  # keys of the SUT's data and FIN segments seen
        self.repeat = False  # the last segment recv() returned was one of them again

    def seg(self, flags, off=0, payload=b"", win=65535, ack=None, options=None, seq=None):
        s = (self.iss + 1 + off) % MOD if seq is None else seq % MOD
        a = 0 if self.base is None else (self.base + (ack or 0)) % MOD
        t = TCP(sport=self.sport, dport=self.dport, seq=s, ack=a, flags=flags, window=win, options=options or [])
        return self.w.eth() / self.w.ipv4() / t / (Raw(payload) if payload else b"")

    def send(self, *a, **kw):
        self.w.send_raw(self.seg(*a, **kw))

    def mine(self, e):
        return TCP in e and e[TCP].sport == self.dport and e[TCP].dport == self.sport

    def recv(self, timeout=1.0, data_only=False):
        e = self.w.recv(lambda e: self.mine(e) and (not data_only or tcp_len(e) > 0), timeout)
        if e is not None:
            self.repeat = self.key(e) in self.sent_by_sut
            if self.key(e)[1] or self.key(e)[2]:
                self.sent_by_sut.add(self.key(e))
        return e

    @staticmethod
    def key(e):
        """A segment's sequence number, length and FIN: what makes a retransmission a repeat."""
        return (e[TCP].seq, tcp_len(e), "F" in str(e[TCP].flags))

    def collect(self, secs, skip_repeats=False):
        """What comes within secs; with skip_repeats, not the SUT's retransmissions of data or
        a FIN already seen (when they come depends on how fast the peer answered, which a
        loaded machine decides)."""
        out, end = [], time.monotonic() + secs
        while True:
            e = self.recv(max(0.0, end - time.monotonic()))
            if e is None:
                return out
            if not (skip_repeats and self.repeat):
                out.append(e)

    def rel_seq(self, x):
        return (x - self.base) % MOD if self.base is not None else x

    def rel_ack(self, x):
        d = (x - self.iss - 1) % MOD
        return d - MOD if d > MOD // 2 else d

    def describe(self, e):
        if e is None:
            return "nothing"
        t = e[TCP]
        flags = "".join(c for c in str(t.flags) if c != "P")
        seq = self.rel_seq(t.seq)
        if seq > MOD // 2:
            seq -= MOD
        parts = [flags or "-", f"seq={seq}"]
        if "A" in flags:
            parts.append(f"ack={self.rel_ack(t.ack)}")
        n = tcp_len(e)
        if n:
            parts.append(f"len={n}")
        if "R" not in flags:
            parts.append("win=0" if t.window == 0 else "win>0")
        for k, v in t.options:
            if k == "SAck":
                blocks = [self.rel_ack(x) for x in v]
                parts.append("sack=" + ",".join(f"{blocks[i]}-{blocks[i + 1]}" for i in range(0, len(blocks), 2)))
        return " ".join(parts)

    def connect(self, win=65535, ack_win=None, options=None):
        """The handshake; returns the SYN-ACK's line."""
        opts = options if options is not None else [("MSS", 1000), ("SAckOK", b"")]
        self.send("S", seq=self.iss, win=win, options=opts)
        sa = self.recv(2.0)
        if sa is None or str(sa[TCP].flags) != "SA":
            return f"no SYN-ACK: {self.describe(sa)}"
        self.base = (sa[TCP].seq + 1) % MOD
        self.send("A", win=win if ack_win is None else ack_win)
        names = sorted(k for k, _ in sa[TCP].options if k not in ("NOP", "EOL"))
        return f"SYN-ACK ack={self.rel_ack(sa[TCP].ack)} options={','.join(names)}"


def sc_handshake_options(w):
    """SYN with every option: which come back (values are the SUT's own)."""
    out = []
    c = Conn(w, 9008, 20001)
    out.append(c.connect(options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("WScale", 7)]))
    c.send("R")
    c2 = Conn(w, 9008, 20002)
    out.append(c2.connect(options=[]))
    out.append("then: " + lines(c2, c2.collect(0.2)))
    c2.send("R")
    return out


def sc_out_of_order(w):
    """Segments 3, 2, 1 (SACK blocks, then the hole filled), duplicates (D-SACK)."""
    c = Conn(w, 9007, 20101)
    out = [c.connect()]
    w.drain()
    for what, off, data in [
        ("third first", 8, b"CCCC"),
        ("second", 4, b"BBBB"),
        ("first fills the hole", 0, b"AAAA"),
        ("duplicate of the second", 4, b"BBBB"),
        ("duplicate beyond what was acked", 6, b"BBCCCCDD"),
    ]:
        c.send("PA", off, data)
        out.append(f"{what}: {c.describe(c.recv(1.0))}")
    out.append("then: " + lines(c, c.collect(0.3)))
    c.send("R", 14)
    return out


def sc_retransmit_rto(w):
    """The SUT's data is never acknowledged: the same segment again (RTO), then quiet once acked."""
    c = Conn(w, 9002, 20201)
    out = [c.connect(options=[("MSS", 1000), ("SAckOK", b"")])]
    if c.base is None:
        return out
    got = []
    while sum(tcp_len(e) for e in got) < 6000:
        e = c.recv(5.0, data_only=True)  # the app may be slow to accept
        if e is None:
            break
        got.append(e)
    out.append("first flight: " + " | ".join(c.describe(e) for e in got))
    # Nothing acked: the first retransmissions (Linux's tail loss probe may resend the last
    # segment first; the RTO resends the first).
    rts = []
    end = time.monotonic() + 4
    while time.monotonic() < end and not any(c.rel_seq(e[TCP].seq) == 0 for e in rts):
        e = c.recv(end - time.monotonic(), data_only=True)
        if e is not None:
            rts.append(e)
    first = [e for e in rts if c.rel_seq(e[TCP].seq) == 0]
    out.append("RTO retransmits the first segment: " + (c.describe(first[0]) if first else "nothing"))
    c.send("A", 0, ack=6000)
    w.drain(0.05)
    out.append("after everything is acked: " + (" | ".join(c.describe(e) for e in c.collect(1.0)) or "nothing"))
    c.send("R", 0, ack=6000)
    return out


def sc_fast_retransmit(w):
    """Segment 2 of 6 lost: ACK 1, then SACKs for 3..6: the hole is resent without waiting an RTO."""
    c = Conn(w, 9002, 20301)
    out = [c.connect(options=[("MSS", 1000), ("SAckOK", b"")])]
    if c.base is None:
        return out
    got = 0
    while got < 6000:
        e = c.recv(5.0, data_only=True)  # the app may be slow to accept
        if e is None:
            break
        got += tcp_len(e)
    out.append(f"first flight: {got} bytes")
    c.send("A", 0, ack=1000)
    for right in (3000, 4000, 5000, 6000):
        c.send("A", 0, ack=1000, options=[("NOP", None), ("NOP", None), ("SAck", ((c.base + 2000) % MOD, (c.base + right) % MOD))])
    hole = c.w.recv(lambda e: c.mine(e) and tcp_len(e) > 0 and c.rel_seq(e[TCP].seq) < 2000, 3.0)
    out.append("the hole: " + c.describe(hole))
    c.send("A", 0, ack=6000)
    w.drain(0.05)
    out.append("after everything is acked: " + (" | ".join(c.describe(e) for e in c.collect(0.8)) or "nothing"))
    c.send("R", 0, ack=6000)
    return out


def sc_sack_two_holes(w):
    """Ten segments (MSS 600) of the 6,000-byte greeting, segments 2 and 5 lost: the peer ACKs
    segment 1, then sends a duplicate ACK with the SACK blocks so far for each of 3, 4 and
    6..10, as a receiver would. Which ranges the SUT resends in the next second, before the
    cumulative ACK (as a set: a second RTO-driven copy of a hole may come or not, depending
    on timing; anything SACKed resent would show)."""
    c = Conn(w, 9002, 20311)
    out = [c.connect(options=[("MSS", 600), ("SAckOK", b"")])]
    if c.base is None:
        return out
    have = set()
    end = time.monotonic() + 5  # the app may be slow to accept
    while len(have) < 10 and time.monotonic() < end:
        e = c.recv(end - time.monotonic(), data_only=True)
        if e is None:
            break
        have.add((c.rel_seq(e[TCP].seq), tcp_len(e)))
    out.append("first flight: " + " ".join(f"{s}-{s + n}" for s, n in sorted(have)))

    def ack(blocks):
        sack = tuple((c.base + x) % MOD for x in blocks)
        return bytes(c.seg("A", 0, ack=600, options=[("NOP", None), ("NOP", None), ("SAck", sack)] if sack else []))

    acks = [ack([]), ack([1200, 1800]), ack([1200, 2400])]
    acks += [ack([3000, right, 1200, 2400]) for right in (3600, 4200, 4800, 5400, 6000)]
    # What came before the ACKs is not counted; they go out back to back (built beforehand).
    w.drain(0)
    for f in acks:
        w.send_raw(f)
    got = []
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        e = c.recv(end - time.monotonic(), data_only=True)
        if e is not None:
            got.append((c.rel_seq(e[TCP].seq), tcp_len(e)))
    # Linux's tail-loss probe (the last segment again) may still beat the ACKs to it on a slow
    # machine: a resend of the last segment before anything else is left out.
    if got and got[0] == (5400, 600):
        got = got[1:]
    resent = set(got)
    out.append("resent before the cumulative ACK: " + (" ".join(f"{s}-{s + n}" for s, n in sorted(resent)) or "nothing"))
    c.send("A", 0, ack=6000)
    w.drain(0.05)
    out.append("after everything is acked: " + lines(c, c.collect(0.8)))
    c.send("R", 0, ack=6000)
    return out


def sc_zero_window(w):
    """The peer's window is 0 from the handshake on: probes, then data after a window update."""
    c = Conn(w, 9006, 20401)
    out = [c.connect(ack_win=0)]
    early = c.collect(0.1)
    out.append("before any probe: " + (" | ".join(c.describe(e) for e in early) or "nothing"))
    for i in range(2):
        p = c.recv(5.0)
        out.append(f"probe {i + 1}: {c.describe(p)}")
        c.send("A", 0, win=0)
    c.send("A", 0, win=65535)
    d = c.recv(3.0, data_only=True)
    out.append("after the window update: " + c.describe(d))
    c.send("R", 0)
    return out


def sc_receive_window(w):
    """The app never reads: the peer fills the SUT's window until it is 0 (how much that
    takes differs: buffer sizes), probes it, sends beyond it; then the app reads and the
    SUT must reopen the window."""
    c = Conn(w, 9008, 21300)
    out = [c.connect(options=[("MSS", 1000)])]
    if c.base is None:
        return out
    w.drain()
    acked, win = 0, 65535
    deadline = time.monotonic() + 30
    while (win > 0) and time.monotonic() < deadline and acked < 16 << 20:
        # go back to what is acknowledged (a receiver short of memory drops segments)
        nxt, right = acked, acked + win
        while nxt < right:
            n = min(1000, right - nxt)
            c.send("A", nxt, b"w" * n)
            nxt += n
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            e = c.recv(end - time.monotonic())
            if e is None:
                break
            if c.rel_ack(e[TCP].ack) >= acked:
                acked, win = c.rel_ack(e[TCP].ack), e[TCP].window
            if acked >= nxt:
                break
    nxt = acked
    out.append(f"the window closed: {win == 0}")

    def rel(e):
        if e is None:
            return "nothing"
        a = c.rel_ack(e[TCP].ack)
        pos = "at the window's edge" if a == nxt else f"{a - nxt:+d} from the window's edge"
        return f"{str(e[TCP].flags).replace('P', '')} ack {pos} win={'0' if e[TCP].window == 0 else '>0'}"

    c.send("A", nxt, b"p")
    out.append("a 1-byte probe: " + rel(c.recv(1.0)))
    c.send("A", nxt + 1000, b"x" * 100)
    out.append("data beyond the window: " + rel(c.recv(1.0)))
    w.send_raw(w.eth() / w.ipv4() / UDP(sport=21301, dport=9009) / Raw(b"read"))
    # The window update may come before the app's answer: keep both.
    read, upd = -1, None
    end = time.monotonic() + 10
    while time.monotonic() < end and (read < 0 or upd is None):
        e = w.recv(lambda e: (UDP in e and e[UDP].dport == 21301) or (c.mine(e) and e[TCP].window > 0), min(end - time.monotonic(), 3.0 if read >= 0 else 10.0))
        if e is None:
            break
        if UDP in e:
            read = int(e[Raw].load.split()[1]) if Raw in e else -2
        elif upd is None:
            upd = e
    out.append(f"the app read everything acknowledged: {read == nxt}")
    out.append("then the SUT: " + rel(upd))
    c.send("R", nxt)
    return out


def sc_timestamps(w):
    """Timestamps and window scaling negotiated: what the SUT echoes (TSecr), and a segment
    whose timestamp is older than the last one seen (PAWS, RFC 7323 5)."""
    c = Conn(w, 9007, 21400)
    sa_opts = [("MSS", 1000), ("SAckOK", b""), ("Timestamp", (1000, 0)), ("NOP", None), ("WScale", 7)]
    c.send("S", seq=c.iss, options=sa_opts)
    sa = c.recv(2.0)
    if sa is None or str(sa[TCP].flags) != "SA":
        return [f"no SYN-ACK: {c.describe(sa)}"]
    c.base = (sa[TCP].seq + 1) % MOD
    ts = dict(sa[TCP].options).get("Timestamp")
    out = [f"SYN-ACK tsecr={ts[1] if ts else None}"]

    def opts(val):
        return [("NOP", None), ("NOP", None), ("Timestamp", (val, ts[0] if ts else 0))]

    def line(e):
        if e is None:
            return "nothing"
        t = dict(e[TCP].options).get("Timestamp")
        return f"{c.describe(e)} tsecr={t[1] if t else None}"

    c.send("A", 0, win=512, options=opts(1001))  # 512 << 7 = 64 KiB
    w.drain()
    for what, off, data, val in [
        ("data", 0, b"AAAA", 1002),
        ("older timestamp (PAWS)", 4, b"BBBB", 500),
        ("the same data, a newer timestamp", 4, b"BBBB", 1003),
        ("no timestamp at all", 8, b"CCCC", None),
    ]:
        c.send("PA", off, data, win=512, options=opts(val) if val is not None else [])
        got = c.collect(0.5)
        out.append(f"{what}: " + (" | ".join(line(e) for e in got) or "nothing"))
    c.send("R", 12)
    return out


def probe_line(c, what, flags="A", off=0, ack=0, payload=b"", secs=0.5):
    c.send(flags, off, payload, ack=ack)
    got = c.collect(secs, skip_repeats=True)
    return f"{what}: " + (" | ".join(c.describe(e) for e in got) or "nothing")


def sc_rst_states(w):
    """RST in SYN-RECEIVED, ESTABLISHED (exact, in window, out of window), CLOSE-WAIT,
    FIN-WAIT-1, FIN-WAIT-2, LAST-ACK, TIME-WAIT; after each, a probe shows whether the
    connection still exists."""
    out = []
    # SYN-RECEIVED
    c = Conn(w, 9008, 20501)
    c.send("S", seq=c.iss, options=[("MSS", 1000)])
    sa = c.recv(2.0)
    c.base = (sa[TCP].seq + 1) % MOD if sa is not None else 0
    out.append("syn-received: " + c.describe(sa))
    out.append(probe_line(c, "RST seq=1", "R", 0, secs=0.3))
    out.append(probe_line(c, "the handshake's ACK after it", "A", 0, secs=0.5))
    # ESTABLISHED: out of window, in window (challenge ACK), exact.
    c = Conn(w, 9008, 20502)
    out.append(c.connect())
    w.drain()
    out.append(probe_line(c, "established, RST out of window", "R", 200000))
    time.sleep(0.6)  # Linux limits challenge ACKs to one per 500 ms per socket
    out.append(probe_line(c, "established, RST in window not exact", "R", 100))
    out.append(probe_line(c, "established, exact RST", "R", 0))
    out.append(probe_line(c, "then an ACK", "A", 0))
    # CLOSE-WAIT: the peer's FIN, the app never reads nor closes.
    c = Conn(w, 9008, 20503)
    out.append(c.connect())
    w.drain()
    out.append(probe_line(c, "close-wait: FIN", "FA", 0))
    out.append(probe_line(c, "close-wait: RST", "R", 1))
    out.append(probe_line(c, "then an ACK", "A", 1))
    # FIN-WAIT-1 / FIN-WAIT-2 / TIME-WAIT: the app sends "bye\n" and closes.
    for state in ("fin-wait-1", "fin-wait-2", "time-wait"):
        c = Conn(w, 9003, {"fin-wait-1": 20504, "fin-wait-2": 20505, "time-wait": 20506}[state])
        out.append(c.connect())
        got, fin = 0, False
        end = time.monotonic() + 5  # the app may be slow to accept
        while time.monotonic() < end and not fin:
            e = c.recv(end - time.monotonic())
            if e is None:
                break
            got += tcp_len(e)
            fin = fin or "F" in str(e[TCP].flags)
        out.append(f"{state}: the app's data and FIN: {got} bytes, fin={fin}")
        if state == "fin-wait-1":
            out.append(probe_line(c, "fin-wait-1: RST", "R", 0, secs=0.8))
            out.append(probe_line(c, "then an ACK", "A", 0, ack=5))
        elif state == "fin-wait-2":
            out.append(probe_line(c, "fin-wait-2: ACK of data and FIN", "A", 0, ack=5))
            out.append(probe_line(c, "fin-wait-2: RST", "R", 0))
            out.append(probe_line(c, "then an ACK", "A", 0, ack=5))
        else:
            c.send("A", 0, ack=5)
            out.append(probe_line(c, "time-wait: our FIN", "FA", 0, ack=5))
            out.append(probe_line(c, "time-wait: our FIN again", "FA", 0, ack=5))
            out.append(probe_line(c, "time-wait: RST", "R", 1))
            out.append(probe_line(c, "time-wait: our FIN again", "FA", 0, ack=5))
    # LAST-ACK: the peer's FIN; the app reads EOF and closes.
    c = Conn(w, 9007, 20507)
    out.append(c.connect())
    w.drain()
    c.send("FA", 0)
    got = []
    end = time.monotonic() + 3  # the app (slow under ptrace) reads EOF and closes
    while time.monotonic() < end and not any("F" in str(e[TCP].flags) for e in got):
        e = c.recv(end - time.monotonic())
        if e is not None:
            got.append(e)
    fin = any("F" in str(e[TCP].flags) for e in got)
    acked = any(c.rel_ack(e[TCP].ack) == 1 for e in got)
    out.append(f"last-ack: after our FIN the SUT acked it={acked} and sent its FIN={fin}")
    out.append(probe_line(c, "last-ack: RST", "R", 1, secs=0.8))
    out.append(probe_line(c, "then an ACK", "A", 1, ack=1))
    return out


def sc_rst_syn_sent(w):
    """The app connects out (server.py's control port): RST with a wrong ACK is ignored, RST
    with the right one refuses the connection; a SYN-ACK completes it."""
    out = []
    ctl = UDP(sport=20600, dport=9009)

    def ask(port):
        w.send_raw(w.eth() / w.ipv4() / ctl / Raw(f"connect {port}".encode()))

    def answer(timeout):
        e = w.recv(lambda e: UDP in e and e[UDP].dport == 20600, timeout)
        return e[Raw].load.decode() if e is not None and Raw in e else "no answer"

    for port, how in [(20601, "refused"), (20602, "accepted")]:
        ask(port)
        syn = w.recv(lambda e: TCP in e and e[TCP].dport == port and str(e[TCP].flags) == "S", 5.0)
        if syn is None:
            out.append(f"{how}: no SYN")
            continue
        t = syn[TCP]
        c = Conn(w, t.sport, port, iss=777000)
        c.base = t.seq  # relative to the SUT's ISN itself here
        opts = sorted(k for k, _ in t.options if k not in ("NOP", "EOL"))
        out.append(f"{how}: SYN options={','.join(opts)}")
        bad = c.w.eth() / c.w.ipv4() / TCP(sport=port, dport=t.sport, seq=0, ack=(t.seq + 100) % MOD, flags="RA")
        w.send_raw(bad)
        out.append(f"{how}: RST with a wrong ACK: " + (" | ".join(c.describe(e) for e in c.collect(0.3)) or "nothing"))
        if how == "refused":
            good = c.w.eth() / c.w.ipv4() / TCP(sport=port, dport=t.sport, seq=0, ack=(t.seq + 1) % MOD, flags="RA")
            w.send_raw(good)
            out.append(f"{how}: the app sees: {answer(5.0)}")
        else:
            sa = c.w.eth() / c.w.ipv4() / TCP(
                sport=port, dport=t.sport, seq=c.iss, ack=(t.seq + 1) % MOD, flags="SA", window=65535,
                options=[("MSS", 1000)])
            w.send_raw(sa)
            e = c.recv(1.0)
            out.append(f"{how}: after our SYN-ACK: {c.describe(e)}")
            out.append(f"{how}: the app sees: {answer(5.0)}")
            w.send_raw(c.w.eth() / c.w.ipv4() / TCP(sport=port, dport=t.sport, seq=c.iss + 1, flags="R"))
    return out


def sc_rst_before_accept(w):
    """A connection reset while it waits in the accept queue: accept still returns it (with
    the peer's address) and the first read says ECONNRESET."""
    c = Conn(w, 9010, 20650)
    out = [c.connect()]
    time.sleep(0.1)
    c.send("R", 0)
    time.sleep(0.1)
    w.send_raw(w.eth() / w.ipv4() / UDP(sport=20651, dport=9009) / Raw(b"accept"))
    e = w.recv(lambda e: UDP in e and e[UDP].dport == 20651, 5.0)
    out.append("the app: " + (e[Raw].load.decode() if e is not None and Raw in e else "no answer"))
    return out


def sc_syn_flood(w):
    """listen(1), never accepted: completed handshakes until the accept queue is full, then a
    flood of SYNs from 40 ports."""
    out = []
    for i in range(4):
        c = Conn(w, 9004, 20700 + i)
        c.send("S", seq=c.iss, options=[("MSS", 1000)])
        sa = c.recv(0.5)
        if sa is not None and str(sa[TCP].flags) == "SA":
            c.base = (sa[TCP].seq + 1) % MOD
            c.send("A")
            out.append(f"handshake {i + 1}: SYN-ACK, acked")
        else:
            out.append(f"handshake {i + 1}: {c.describe(sa)}")
        time.sleep(0.05)
    for i in range(40):
        c = Conn(w, 9004, 20800 + i)
        c.send("S", seq=c.iss, options=[("MSS", 1000)])
    answered = set()
    end = time.monotonic() + 0.8
    while time.monotonic() < end:
        e = w.recv(lambda e: TCP in e and e[TCP].sport == 9004 and 20800 <= e[TCP].dport < 20840, end - time.monotonic())
        if e is not None and str(e[TCP].flags) == "SA":
            answered.add(e[TCP].dport)
    out.append(f"flood of 40 SYNs: {len(answered)} answered")
    for i in range(4):
        w.send_raw(Conn(w, 9004, 20700 + i).seg("R"))
    # A half-open flood on a listener with room (listen(16)): every SYN answered, the ones
    # beyond the SYN queue with SYN cookies.
    for i in range(40):
        w.send_raw(Conn(w, 9008, 21100 + i).seg("S", seq=Conn(w, 9008, 21100 + i).iss, options=[("MSS", 1000)]))
    answered = {}
    end = time.monotonic() + 0.8
    while time.monotonic() < end:
        e = w.recv(lambda e: TCP in e and e[TCP].sport == 9008 and 21100 <= e[TCP].dport < 21140, end - time.monotonic())
        if e is not None and str(e[TCP].flags) == "SA":
            answered[e[TCP].dport] = e
    out.append(f"half-open flood of 40 SYNs on listen(16): {len(answered)} answered")
    # The last one's SYN-ACK (a cookie on Linux): its options; completing it with data.
    last = answered.get(21139)
    if last is not None:
        c = Conn(w, 9008, 21139)
        c.base = (last[TCP].seq + 1) % MOD
        names = sorted(k for k, _ in last[TCP].options if k not in ("NOP", "EOL"))
        out.append(f"the 40th SYN-ACK: options={','.join(names)}")
        c.send("A", 0, ack=0, payload=b"hi")
        out.append("its ACK with 2 bytes: " + lines(c, c.collect(0.6)))
        c.send("R", 2)
    for i in range(40):
        w.send_raw(Conn(w, 9008, 21100 + i).seg("R"))
    return out


class UdpCases:
    """Datagrams to the UDP echo port, each marked by a tag at the start of its body; all
    are sent, then the echoes collected, so that a slow SUT's late echo is still matched to
    its case."""

    def __init__(self, w):
        self.w, self.cases = w, []

    def add(self, label, tag, frames):
        self.cases.append((label, tag.encode(), frames))

    def run(self, secs=1.5):
        for _, _, frames in self.cases:
            for f in frames:
                self.w.send_raw(f)
            time.sleep(0.01)
        got = {}
        end = time.monotonic() + secs
        while time.monotonic() < end:
            e = self.w.recv(lambda e: UDP in e and e[UDP].sport == 9005 and e[UDP].dport == 20900, end - time.monotonic())
            if e is None:
                break
            body = bytes(e[UDP].payload)[: e[UDP].len - 8]
            for label, tag, _ in self.cases:
                if body.startswith(tag + b"."):
                    got.setdefault(label, []).append(body)
        out = []
        for label, tag, _ in self.cases:
            echoes = got.get(label, [])
            if not echoes:
                out.append(f"{label}: no echo")
            else:
                kinds = sorted({f"{len(b)} bytes {b[:24]!r}" for b in echoes})
                out.append(f"{label}: {len(echoes)} echo(es) of {' / '.join(kinds)}")
        return out


def sc_fragments(w):
    """IPv4 fragments (in order, reversed, duplicated, overlapping, a bad header checksum in
    one) carrying UDP datagrams to an echo port: which datagrams come back."""
    out = []

    def dgram(name, n=64):
        body = (name.encode() + b"." * n)[:n]
        return UDP(sport=20900, dport=9005) / Raw(body)

    def frags(name, ident, order, overlap=None, corrupt=None):
        d = bytes(IP(bytes(w.ipv4(proto=17) / dgram(name)))[UDP])
        pieces = []
        for off in range(0, len(d), 24):
            chunk = d[off:off + 24]
            pieces.append((off, chunk, off + 24 < len(d)))
        fr = []
        for i in order:
            off, chunk, mf = pieces[i]
            fr.append(w.eth() / w.ipv4(id=ident, proto=17, frag=off // 8, flags="MF" if mf else 0) / Raw(chunk))
        if overlap is not None:
            off, chunk = overlap
            fr.insert(1, w.eth() / w.ipv4(id=ident, proto=17, frag=off // 8, flags="MF") / Raw(chunk))
        if corrupt is not None:
            raw = bytearray(bytes(fr[corrupt]))
            raw[14 + 10] ^= 0xFF
            fr[corrupt] = Ether(bytes(raw))
        return fr

    u = UdpCases(w)
    u.add("unfragmented", "plain", [w.eth() / w.ipv4() / dgram("plain")])
    u.add("in order", "in-order", frags("in-order", 101, [0, 1, 2]))
    u.add("reversed", "reversed", frags("reversed", 102, [2, 1, 0]))
    u.add("an exact duplicate", "duplicate", frags("duplicate", 103, [0, 1, 1, 2]))
    u.add("overlapping, different bytes", "overlap", frags("overlap", 104, [0, 1, 2], overlap=(16, b"!" * 24)))
    u.add("overlapping, same offset shorter", "overlap2", frags("overlap2", 105, [0, 1, 2], overlap=(24, b"?" * 8)))
    u.add("a fragment with a bad header checksum", "badsum", frags("badsum", 106, [0, 1, 2], corrupt=1))
    u.add("the missing piece never comes", "missing", frags("missing", 107, [0, 2]))
    u.add("after all that, unfragmented", "plain-again", [w.eth() / w.ipv4() / dgram("plain-again")])
    return u.run()


def sc_bogus(w):
    """Bad checksums and lengths: dropped without an answer; a good packet afterwards is answered."""
    out = []

    def raw(pkt, at, xor):
        b = bytearray(bytes(pkt))
        b[at] ^= xor
        return b

    def fix_ip_sum(b):
        b[24:26] = b"\0\0"
        s = sum(int.from_bytes(b[i:i + 2], "big") for i in range(14, 34, 2))
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        b[24:26] = (~s & 0xFFFF).to_bytes(2, "big")
        return b

    u = lambda n: w.eth() / w.ipv4() / UDP(sport=20900, dport=9005) / Raw(n.encode() + b"." * 20)
    uc = UdpCases(w)
    uc.add("udp: bad checksum", "udpsum", [raw(u("udpsum"), 14 + 20 + 6, 0x55)])
    b = bytearray(bytes(u("udplen+")))
    b[14 + 20 + 5] += 8  # UDP length past the IP payload
    uc.add("udp: length past the datagram", "udplen+", [b])
    b = bytearray(bytes(u("udplen-")))
    b[14 + 20 + 5] = 7  # UDP length below its header
    uc.add("udp: length below 8", "udplen-", [b])
    uc.add("ip: bad header checksum", "ipsum", [raw(u("ipsum"), 14 + 11, 0x0F)])
    b = bytearray(bytes(u("iplen+")))
    b[14 + 3] += 40
    uc.add("ip: total length past the frame", "iplen+", [fix_ip_sum(b)])
    b = bytearray(bytes(u("iplen-")))
    b[14 + 3] = 19
    uc.add("ip: total length below the header", "iplen-", [fix_ip_sum(b)])
    b = bytearray(bytes(u("ihl4")))
    b[14] = 0x44
    uc.add("ip: header length 4 words", "ihl4", [fix_ip_sum(b)])
    b = bytearray(bytes(u("ver6")))
    b[14] = 0x65
    uc.add("ip: version 6 in an IPv4 frame", "ver6", [fix_ip_sum(b)])
    uc.add("udp: good again", "good", [u("good")])
    out += uc.run()
    # ICMP echo
    ping = lambda i: w.eth() / w.ipv4() / ICMP(type=8, id=0x6363, seq=i) / Raw(b"ping" * 8)

    def pong(name, frames):
        for f in frames:
            w.send_raw(f)
        seq = frames[-1][ICMP].seq if ICMP in frames[-1] else -1
        e = w.recv(lambda e: ICMP in e and e[ICMP].type == 0 and e[ICMP].id == 0x6363 and e[ICMP].seq == seq, 1.0)
        return f"{name}: " + (f"echo reply seq={e[ICMP].seq} len={e[IP].len - e[IP].ihl * 4 - 8}" if e is not None else "nothing")

    out.append(pong("icmp: bad checksum", [Ether(bytes(raw(ping(1), 14 + 20 + 2, 0x11)))]))
    out.append(pong("icmp: good", [ping(2)]))
    # TCP on an established connection: bad checksum, bad data offset; then a good segment.
    c = Conn(w, 9007, 21001)
    out.append(c.connect())
    w.drain()
    out.append("tcp: bad checksum: " + tcp_case(c, raw(c.seg("PA", 0, b"XXXX"), 14 + 20 + 16, 0x33)))
    b = bytearray(bytes(c.seg("PA", 0, b"YYYY")))
    b[14 + 20 + 12] = 0x40  # data offset 4 words
    out.append("tcp: data offset 4: " + tcp_case(c, tcp_resum(b)))
    b = bytearray(bytes(c.seg("PA", 0, b"ZZZZ")))
    b[14 + 20 + 12] = 0xF0  # data offset 60 bytes, past the segment
    out.append("tcp: data offset past the segment: " + tcp_case(c, tcp_resum(b)))
    out.append("tcp: good: " + tcp_case(c, bytes(c.seg("PA", 0, b"AAAA")), 1.0))
    c.send("R", 4)
    # a SYN with a bad checksum to a listener: no SYN-ACK
    c = Conn(w, 9008, 21002)
    out.append("tcp: SYN with a bad checksum: " + tcp_case(c, raw(c.seg("S", seq=c.iss), 14 + 20 + 16, 0x01)))
    return out


def tcp_resum(b):
    """Recomputes the TCP checksum over what the IP header says is the segment."""
    ihl = (b[14] & 15) * 4
    total = int.from_bytes(b[16:18], "big")
    seg = bytearray(b[14 + ihl:14 + total])
    seg[16:18] = b"\0\0"
    pseudo = bytes(b[26:34]) + b"\0\x06" + len(seg).to_bytes(2, "big")
    data = pseudo + seg + (b"\0" if len(seg) % 2 else b"")
    s = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    b[14 + ihl + 16:14 + ihl + 18] = (~s & 0xFFFF).to_bytes(2, "big")
    return b


def tcp_case(c, frame, secs=0.5):
    c.w.send_raw(frame)
    got = c.collect(secs)
    return " | ".join(c.describe(e) for e in got) or "nothing"


SCENARIOS = {
    "handshake-options": sc_handshake_options,
    "out-of-order": sc_out_of_order,
    "retransmit-rto": sc_retransmit_rto,
    "fast-retransmit": sc_fast_retransmit,
    "sack-two-holes": sc_sack_two_holes,
    "zero-window": sc_zero_window,
    "receive-window": sc_receive_window,
    "timestamps": sc_timestamps,
    "rst-states": sc_rst_states,
    "rst-syn-sent": sc_rst_syn_sent,
    "rst-before-accept": sc_rst_before_accept,
    "syn-flood": sc_syn_flood,
    "fragments": sc_fragments,
    "bogus": sc_bogus,
}


def main():
    iface, ip, sut_ip, *names = sys.argv[1:]
    if names == ["all"] or not names:
        names = list(SCENARIOS)
    w = Wire(iface, ip, sut_ip)
    w.resolve()
    result = {}
    for n in names:
        if n not in SCENARIOS:
            raise SystemExit(f"peer: unknown scenario {n!r} (known: {', '.join(SCENARIOS)})")
        w.drain()
        t = time.monotonic()
        result[n] = SCENARIOS[n](w)
        print(f"peer: {n} took {time.monotonic() - t:.1f}s", file=sys.stderr, flush=True)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
