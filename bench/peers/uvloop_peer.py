"""The uvloop peer for `weft bench`: py_peer.py's asyncio workloads on
uvloop's event loop (libuv under asyncio's API), the seeds' faster asyncio.
Prints "RESULT <name> <ops/s>" like py_peer.py; exits 1 without uvloop
(Debian python3-uvloop, scripts/install-deps.sh --peers).

    python3 uvloop_peer.py [reps] [scale] [name...]
"""
import asyncio
import os
import sys

try:
    import uvloop
except ImportError:
    # Debian's package is for Debian's interpreter: a python3 earlier in
    # PATH (pyenv, a venv) does not see it.
    system = "/usr/bin/python3"
    if os.path.exists(system) and os.path.realpath(sys.executable) != os.path.realpath(system):
        os.execv(system, [system] + sys.argv)
    sys.exit("uvloop is not installed (python3-uvloop)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import py_peer  # noqa: E402

asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
py_peer.run([b for b in py_peer.BENCHES if b[0] in py_peer.ASYNCIO], sys.argv)
