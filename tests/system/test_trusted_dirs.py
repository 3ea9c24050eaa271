#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The directories a real riovd trusts (issue 12 finding 11): a symbolic link at socket_dir, a
state_dir anyone can write to, and a symbolically linked RPC socket directory each stop riovd at
start with a message naming the directory and the rule; nothing is created through the link."""
import os

from riovtest import Riovd, TestFailure, check, main, tmpdir


def refused(d, words, what):
    try:
        d.start(timeout=90)
    except TestFailure as e:
        check("exited with" in str(e), what + ": riovd refuses to start")
        text = d.log_text()
        check(all(w in text for w in words), what + ": the log says why (%s)" %
              [l for l in text.splitlines() if "refus" in l or "symbolic" in l][-1:])
        return
    raise TestFailure(what + ": riovd started")


def test_untrusted_dirs_refused():
    tmp = tmpdir("trust")
    real = os.path.join(tmp, "real")
    link = os.path.join(tmp, "link")
    os.mkdir(real)
    os.symlink(real, link)

    d = Riovd(tmp, "", extra_args=["--socket-dir", link])
    refused(d, [link, "is a symbolic link"], "socket_dir behind a symbolic link")

    state = os.path.join(tmp, "open-state")
    os.mkdir(state)
    os.chmod(state, 0o777)
    d = Riovd(tmp, "", extra_args=["--state-dir", state])
    refused(d, [state, "writable by everyone"], "world-writable state_dir")

    # the RPC socket's directory, checked when the socket is bound (after the EAL started)
    d = Riovd(tmp, "", extra_args=["--rpc-socket", os.path.join(link, "riovd.sock")])
    refused(d, [link, "is a symbolic link"], "RPC socket directory behind a symbolic link")
    check(not os.path.exists(os.path.join(real, "riovd.sock")), "no socket created through the link")


if __name__ == "__main__":
    main([test_untrusted_dirs_refused])
