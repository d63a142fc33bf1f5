#!/usr/bin/env python3
"""Plays systemd's part for spec/instances_systemd_spec.lua.

  systemd_peer.py NOTIFY_PATH RECORD RUNS [--listen] -- luster ARGS...

Binds an AF_UNIX datagram socket at NOTIFY_PATH (NOTIFY_SOCKET) and writes
every notification it receives to RECORD, one line each ("run N: STATE",
newlines shown as spaces).  With --listen it first opens a TCP listening
socket on 127.0.0.1 (port chosen by the OS), prints "port P", and passes it
to luster as fd 3 with LISTEN_FDS=1 and LISTEN_PID, as socket activation
does; PORT is set to it too.  The command runs RUNS times in a row, 300 ms
apart (systemd's Restart= with RestartSec=), each time printing "pid X";
the listening socket stays open in between, as systemd keeps it.
"""
import ctypes, os, select, signal, socket, sys, time

notify_path, record, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
rest = sys.argv[4:]
listen = '--listen' in rest
cmd = rest[rest.index('--') + 1:]

dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dgram.bind(notify_path)
listener = None
env = dict(os.environ, NOTIFY_SOCKET=notify_path)
if listen:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(('127.0.0.1', 0))
    listener.listen(128)
    env['PORT'] = str(listener.getsockname()[1])
    print('port', env['PORT'], flush=True)

out = open(record, 'a', buffering=1)
code = 0
for run in range(1, runs + 1):
    pid = os.fork()
    if pid == 0:
        # luster ends with this peer (a spec that failed kills the peer)
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if listener:
            os.dup2(listener.fileno(), 3)  # dup2 leaves fd 3 inheritable
            env['LISTEN_FDS'] = '1'
            env['LISTEN_PID'] = str(os.getpid())
        os.execve(cmd[0], cmd, env)
    print('pid', pid, flush=True)
    while True:
        r, _, _ = select.select([dgram], [], [], 0.05)
        if r:
            msg = dgram.recv(4096).decode()
            out.write('run %d: %s\n' % (run, msg.replace('\n', ' ')))
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            out.write('run %d: exit %d\n' % (run, code))
            break
    if run < runs:
        time.sleep(0.3)
sys.exit(code if code >= 0 else 1)
