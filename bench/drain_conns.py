#!/usr/bin/env python3
"""How a server's graceful stop treats idle HTTP keep-alive clients, at scale.

usage: drain_conns.py PID HOST PORT N STOP_SIGNAL [SECONDS]
       DRAIN_ALPN=1: the clients offer http/1.1 by ALPN; DRAIN_ALPN=h2: they offer h2 and speak HTTP/2

Opens N TLS connections to HOST:PORT (each: handshake, one keep-alive request, its whole answer, then idle), sends
STOP_SIGNAL (TERM, USR1, ...) to PID, and waits up to SECONDS (default 60) for every connection to end. Prints one line
of figures: how many connections ended cleanly (TLS close_notify, then EOF), how many were cut (reset, EOF without
close_notify), how many were still open at the limit, when the last one ended, and when PID exited (or "running").
HTTP/2 clients answer the server's PINGs after the signal, as real clients do, and count the GOAWAYs they get.
Bounded: N connections, at most 120 s to open them and SECONDS to watch them; closes everything it opened. A
benchmark helper, not a test: nothing passes or fails."""
import os, selectors, signal, socket, ssl, sys, time

pid, host, port, n, sig = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
limit = float(sys.argv[6]) if len(sys.argv) > 6 else 60.0
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
H2 = os.environ.get("DRAIN_ALPN") == "h2"
if H2:
    ctx.set_alpn_protocols(["h2"])
elif os.environ.get("DRAIN_ALPN"):
    # Offer http/1.1 by ALPN, as browsers and curl do; without it the clients offer none, as .NET's HttpClient and wrk.
    ctx.set_alpn_protocols(["http/1.1"])
REQUEST = f"GET /100b HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


def frame(kind, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


# HTTP/2: the preface, empty SETTINGS, and GET /100b on stream 1 (HPACK: GET, https from the static table; :path and
# :authority as literals without indexing).
H2_REQUEST = (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0) +
              frame(1, 0x5, 1, b"\x82\x87\x04\x05/100b\x01" + bytes([len(host)]) + host.encode()))


def h2_frames(buf):
    """Whole frames at the start of buf: ([(type, flags, stream, payload)], rest)."""
    out = []
    while len(buf) >= 9:
        n = int.from_bytes(buf[:3], "big")
        if len(buf) < 9 + n:
            break
        out.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF, buf[9:9 + n]))
        buf = buf[9 + n:]
    return out, buf


def h2_answer(s):
    """Reads frames until stream 1 has ended, acknowledging the server's SETTINGS; False when the server ended first."""
    buf = b""
    while True:
        chunk = s.recv(16384)
        if not chunk:
            return False
        frames, buf = h2_frames(buf + chunk)
        for kind, flags, stream, _ in frames:
            if kind == 4 and not flags & 1:
                s.sendall(frame(4, 1, 0))
            if stream == 1 and kind in (0, 1) and flags & 1:
                return True
            if kind in (3, 7):  # RST_STREAM, GOAWAY
                return False


def read_answer(s):
    """Reads one answer with a Content-Length body; False when the server ended the connection instead."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            return False
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            return False
        body += chunk
    return True


socks = []
t0 = time.time()
failed_open = 0
try:
    while len(socks) + failed_open < n and time.time() - t0 < 120:
        try:
            # suppress_ragged_eofs=False: an EOF without close_notify raises (a cut), close_notify reads as b"".
            s = ctx.wrap_socket(socket.create_connection((host, port), timeout=10), server_hostname="localhost",
                                suppress_ragged_eofs=False)
            if H2 and s.selected_alpn_protocol() != "h2":
                raise OSError("the server did not agree on h2")
            s.sendall(H2_REQUEST if H2 else REQUEST)
            if (h2_answer(s) if H2 else read_answer(s)):
                socks.append(s)
            else:
                failed_open += 1
                s.close()
        except OSError:
            failed_open += 1
    opened = time.time() - t0
    time.sleep(1.0)

    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    clean = cut = goaways = 0
    pending = {}
    last_end = None
    exited_at = None
    stop = time.time()
    os.kill(pid, getattr(signal, "SIG" + sig))
    while clean + cut < len(socks) and time.time() - stop < limit:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(16384)
                if data and H2:
                    # What a real HTTP/2 client does with what a draining server sends: answer PINGs, heed GOAWAY.
                    frames, pending[s] = h2_frames(pending.get(s, b"") + data)
                    for kind, flags, _, payload in frames:
                        if kind == 6 and not flags & 1:
                            s.setblocking(True)
                            s.sendall(frame(6, 1, 0, payload))
                            s.setblocking(False)
                        elif kind == 7:
                            goaways += 1
                    continue
                if data:
                    continue  # an unasked-for answer: keep reading
                clean += 1  # close_notify (Python returns b"" for it)
            except ssl.SSLWantReadError:
                continue
            except (ssl.SSLError, OSError):
                cut += 1  # reset, or EOF without close_notify
            sel.unregister(s)
            s.close()  # as a client does once the server has ended the connection
            last_end = time.time() - stop
        if exited_at is None:
            try:
                os.kill(pid, 0)
            except OSError:
                exited_at = time.time() - stop
    while exited_at is None and time.time() - stop < limit:
        try:
            os.kill(pid, 0)
            time.sleep(0.1)
        except OSError:
            exited_at = time.time() - stop
finally:
    for s in socks:
        try:
            s.close()
        except OSError:
            pass

still = len(socks) - clean - cut
print(f"{len(socks)} idle keep-alive connections (opened in {opened:.1f} s, {failed_open} failed to open), SIG{sig}: "
      f"{clean} closed cleanly, {cut} cut, {still} still open after {limit:.0f} s; "
      + (f"{goaways} GOAWAY frames received; " if H2 else "") +
      f"last closed {('%.2f s' % last_end) if last_end is not None else '-'} after the signal; "
      f"server exited {('%.2f s' % exited_at) if exited_at is not None else 'not yet'} after it")
