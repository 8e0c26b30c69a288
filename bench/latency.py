#!/usr/bin/python3
"""latency.py HOST:PORT COUNT SIZE [CONC [RATE]] - accept latency of an SMTP relay.

Each of CONC threads sends COUNT/CONC messages of SIZE body octets over one connection
(MAIL, RCPT, DATA pipelined as smtplib does not; we use raw sockets) and measures, per message,
the time from sending the final "." to receiving the 250 reply: the time the relay needs to make
the message durable. With RATE (messages/s, all threads together; 0 = as fast as it goes) the
messages are paced: message k of thread i is sent at start + (k * CONC + i) / RATE, or at once
when the thread is behind. Prints one line: LATENCY target=.. n=.. conc=.. rate=.. achieved=..
p50_ms= p90_ms= p99_ms= max_ms=
Loopback only."""
import socket
import sys
import threading
import time


def worker(host, port, n, size, out, idx, rate, conc, start):
    s = socket.create_connection((host, port), timeout=60)
    # no Nagle: the final "." must leave at once, or the 40 ms delayed-ACK
    # stall of the client is measured instead of the relay
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")

    def reply():
        while True:
            line = f.readline()
            if not line:
                raise EOFError
            if line[3:4] != b"-":
                return line

    reply()
    s.sendall(b"EHLO latency.bench\r\n")
    reply()
    body = (b"X" * 70 + b"\r\n") * max(1, size // 72)
    lat = []
    for i in range(n):
        if rate:
            delay = start + (i * conc + idx) / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        s.sendall(b"MAIL FROM:<bench@latency.example>\r\nRCPT TO:<rcpt@latency.example>\r\nDATA\r\n")
        for _ in range(3):
            reply()
        s.sendall(b"Subject: latency %d-%d\r\n\r\n" % (idx, i) + body)
        t0 = time.perf_counter()
        s.sendall(b".\r\n")
        r = reply()
        lat.append(time.perf_counter() - t0)
        if not r.startswith(b"250"):
            raise RuntimeError("refused: %r" % r)
    s.sendall(b"QUIT\r\n")
    s.close()
    out.extend(lat)


def main():
    target, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    conc = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    rate = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    host, _, port = target.rpartition(":")
    if not host.startswith("127."):
        sys.exit("loopback only")
    out = []
    start = time.perf_counter() + 0.5  # after the connections are up
    th = [threading.Thread(target=worker, args=(host, int(port), count // conc, size, out, i, rate, conc, start))
          for i in range(conc)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    achieved = len(out) / (time.perf_counter() - start)
    out.sort()
    q = lambda p: out[min(len(out) - 1, int(p * len(out)))] * 1000
    print("LATENCY target=%s n=%d conc=%d size=%d rate=%.0f achieved=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f"
          % (target, len(out), conc, size, rate, achieved, q(0.5), q(0.9), q(0.99), out[-1] * 1000))


if __name__ == "__main__":
    main()
