"""Inside a build's sandbox: the way to citrace's egress proxy, then the build command.

    python -I -S forwarder.py SOCKET PORT -- COMMAND...

Listens on ``127.0.0.1:PORT`` of the sandbox's own loopback, forks a child that carries
each connection to the proxy's Unix socket ``SOCKET`` (bound in from the host,
``recipes.sandbox.egress``), and becomes ``COMMAND``. The listener exists before the
command starts, so its first request finds it. The child lives until the sandbox ends (its
pid namespace dies with the command). Nothing here is a boundary: the command could use the
socket directly; the proxy on the host decides what goes through. Standard library only; it
runs on citrace's own interpreter.
"""

import os
import socket
import sys
import threading

SETUP_FAILED = 125


def relay(source, dest):
    try:
        while True:
            chunk = source.recv(65536)
            if not chunk:
                break
            dest.sendall(chunk)
    except OSError:
        pass
    finally:
        try:
            dest.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def carry(client, path):
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(path)
    except OSError:
        client.close()
        upstream.close()
        return
    back = threading.Thread(target=relay, args=(upstream, client), daemon=True)
    back.start()
    relay(client, upstream)
    back.join()
    client.close()
    upstream.close()


def serve(listener, path):
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            continue
        threading.Thread(target=carry, args=(client, path), daemon=True).start()


def main():
    path, port, separator, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    if separator != "--" or not argv:
        sys.stderr.write("usage: forwarder.py SOCKET PORT -- COMMAND...\n")
        sys.exit(SETUP_FAILED)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
    except OSError as exc:
        sys.stderr.write(f"citrace-egress: cannot listen on 127.0.0.1:{port}: {exc}; builds "
                         "cannot reach the package index here (--unsafe-build-network gives "
                         "them the host's network instead)\n")
        sys.exit(SETUP_FAILED)
    if os.fork() == 0:
        # Not the command's output: its pipe must close when the command is done.
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        serve(listener, path)
        os._exit(0)
    listener.close()
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"cannot start {argv[0]}: {exc.strerror}\n")
        os._exit(127)


if __name__ == "__main__":
    main()
