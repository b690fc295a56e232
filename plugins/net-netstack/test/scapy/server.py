#!/usr/bin/python3
"""The system under test's application for peer.py: the same program runs natively in a
network namespace (Linux's TCP/IP answers) and in a tsvisor sandbox with `network: netstack`
(our stack answers). One thread, one selector; prints "ready" once every socket listens.

TCP ports: 9001 echo; 9002 sends 6,000 bytes on accept, then reads and discards;
9003 sends "bye\\n" and closes at once; 9004 listen(1) and never accepts; 9006 sends 100
bytes on accept and holds; 9007 reads and discards, closes at EOF; 9008 accepts and never
reads; 9010 accepts one connection when told; 9011 echo (for fuzz.py's check afterwards). UDP 9005 echoes. UDP 9009 takes
"connect PORT": a non-blocking connect to the sender's address and PORT, answered with
"connect PORT ERRNAME" (OK when it connected); and "accept": accept one connection on 9010
and read from it, answered with what happened; and "read": read everything the held
connections (9008) have queued, answered with the byte count.
"""
import errno
import selectors
import socket
import sys

sel = selectors.DefaultSelector()
held = []


def listen(port, backlog=16):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(backlog)
    return s


def guarded(f):
    """A connection's trouble (a reset, say) closes it; the server keeps serving."""

    def g(sock):
        try:
            f(sock)
        except OSError as e:
            print(f"server: {f.__name__}: {e}", file=sys.stderr, flush=True)
            try:
                sel.unregister(sock)
            except (KeyError, ValueError):
                pass
            if sock not in listeners:
                sock.close()

    return g


def on_accept(kind):
    @guarded
    def accept(ls):
        c, _ = ls.accept()
        if kind == "echo":
            sel.register(c, selectors.EVENT_READ, on_data(True))
        elif kind == "greet6000":
            c.sendall(bytes((i % 251) for i in range(6000)))
            sel.register(c, selectors.EVENT_READ, on_data(False))
        elif kind == "bye":
            c.sendall(b"bye\n")
            c.close()
        elif kind == "greet100":
            c.sendall(b"g" * 100)
            held.append(c)
        elif kind == "sink":
            sel.register(c, selectors.EVENT_READ, on_data(False))
        else:  # hold
            held.append(c)

    return accept


def on_data(echo):
    @guarded
    def data(c):
        try:
            d = c.recv(65536)
        except OSError:
            d = b""
        if not d:
            sel.unregister(c)
            c.close()
        elif echo:
            c.sendall(d)

    return data


def on_udp_echo(u):
    d, a = u.recvfrom(65536)
    try:
        u.sendto(d, a)
    except OSError as e:  # e.g. a (fuzzed) source address with no route back
        print(f"server: udp echo to {a}: {e}", file=sys.stderr, flush=True)


def on_control(u):
    d, a = u.recvfrom(512)
    words = d.decode(errors="replace").split()
    if not words or words[0] not in ("connect", "accept", "read") or len(words) != (2 if words[0] == "connect" else 1):
        return
    if words[0] == "read":
        # read what the held connections (9008) have queued
        n = 0
        for c in held:
            c.setblocking(False)
            try:
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    n += len(d)
            except OSError:
                pass
            c.setblocking(True)
        u.sendto(f"read {n} bytes".encode(), a)
        return
    if words[0] == "accept":
        # accept one connection from the late listener, then read from it
        try:
            c, addr = late.accept()
        except OSError as e:
            u.sendto(f"accept {errno.errorcode.get(e.errno, e.errno)}".encode(), a)
            return
        try:
            got = c.recv(100)
            what = f"read {len(got)} bytes"
        except OSError as e:
            what = f"read {errno.errorcode.get(e.errno, e.errno)}"
        c.close()
        u.sendto(f"accept OK from {addr[0]}, then {what}".encode(), a)
        return
    port = int(words[1])
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex((a[0], port))

    def done(cs):
        err = cs.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        sel.unregister(cs)
        u.sendto(f"connect {port} {errno.errorcode.get(err, 'OK') if err else 'OK'}".encode(), a)
        held.append(cs)

    sel.register(c, selectors.EVENT_WRITE, done)


listeners = []
for port, kind, backlog in [
    (9001, "echo", 16),
    (9002, "greet6000", 16),
    (9003, "bye", 16),
    (9006, "greet100", 16),
    (9007, "sink", 16),
    (9008, "hold", 16),
    (9011, "echo", 16),
]:
    listeners.append(listen(port, backlog))
    sel.register(listeners[-1], selectors.EVENT_READ, on_accept(kind))
never_accepts = listen(9004, 1)
late = listen(9010, 4)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("0.0.0.0", 9005))
sel.register(udp, selectors.EVENT_READ, on_udp_echo)
ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ctl.bind(("0.0.0.0", 9009))
sel.register(ctl, selectors.EVENT_READ, on_control)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        key.data(key.fileobj)
