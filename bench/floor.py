"""The physical floor: the least a Python process can do between a save and an HTTP request.

Raw inotify through ctypes (`inotify_init1`, `inotify_add_watch`, blocking `read`) on one folder,
and on every IN_CLOSE_WRITE / IN_MOVED_TO a POST /floor (body: the file name) over one keep-alive
`http.client` connection with TCP_NODELAY. No debounce, no hashing, no thread hand-over. Run as
its own process (`python bench/floor.py FOLDER URL`); it prints "ready" once the watch is in
place and runs until it is terminated.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import http.client
import os
import socket
import struct
import sys
from urllib.parse import urlsplit

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CLOEXEC = 0o2000000
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len


def _connect(host: str, port: int) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.connect()
    assert connection.sock is not None
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def main(folder: str, url: str) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    fd = libc.inotify_init1(IN_CLOEXEC)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1")
    if libc.inotify_add_watch(fd, folder.encode(), IN_CLOSE_WRITE | IN_MOVED_TO) < 0:
        raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder}")
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    connection = _connect(host, port)
    print("ready", flush=True)
    while True:
        data = os.read(fd, 65536)
        offset = 0
        while offset < len(data):
            _wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
            name = data[offset + _HEADER.size : offset + _HEADER.size + length].rstrip(b"\0")
            offset += _HEADER.size + length
            if not mask & (IN_CLOSE_WRITE | IN_MOVED_TO):
                continue
            try:
                connection.request("POST", "/floor", body=name)
                connection.getresponse().read()
            except (http.client.HTTPException, OSError):
                connection.close()  # the server hung up: reconnect and say it once more
                connection = _connect(host, port)
                connection.request("POST", "/floor", body=name)
                connection.getresponse().read()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
