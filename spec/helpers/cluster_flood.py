# Open N connections to 127.0.0.1:PORT at once, send a keep-alive request on
# each and hold them all open, so the servers behind the port must have N
# descriptors at the same time.  Prints "held H ok K": connections made, and
# how many got a 200.  Bounded: DEADLINE seconds in all.
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
deadline = time.time() + 15
socks = []
for _ in range(n):
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=2)
        s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        socks.append(s)
    except OSError:
        pass
ok = 0
for s in socks:
    try:
        s.settimeout(max(0.1, min(3, deadline - time.time())))
        if b' 200 ' in s.recv(4096):
            ok += 1
    except OSError:
        pass
print('held', len(socks), 'ok', ok)
for s in socks:
    s.close()
