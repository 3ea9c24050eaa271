#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""riovd's command line and start-up errors: clear messages, non-zero exits, nothing left behind."""
import os
import subprocess

from riovtest import RIOVD, Riovctl, Riovd, TestFailure, check, main, tmpdir


def run(*args, timeout=60, env=None):
    return subprocess.run([RIOVD] + list(args), capture_output=True, text=True, timeout=timeout,
                          env=None if env is None else dict(os.environ, **env))


def test_help():
    r = run("--help")
    check(r.returncode == 0, "riovd --help exits 0")
    for opt in ("--config", "--workers", "--rpc-socket", "--state-dir", "--metrics-listen", "--rpc-listen",
                "--tls-cert"):
        check(opt in r.stdout, "--help lists " + opt)
    r = run("--bogus")
    check(r.returncode == 2, "an unknown option exits 2")


def test_bad_config_file():
    tmp = tmpdir("cli")
    path = os.path.join(tmp, "bad.conf")
    with open(path, "w") as f:
        f.write('riovd = {\n  workers = "1";\n  wrokers = 2;\n};\n')
    r = run("--config", path)
    check(r.returncode == 2, "a bad config file exits 2")
    check("%s:3: unknown setting 'wrokers'" % path in r.stderr, "the error names file, line and setting")
    r = run("--config", os.path.join(tmp, "missing.conf"))
    check(r.returncode == 2 and "cannot open config file" in r.stderr, "a missing config file is reported")
    r = run("--log-level", "info,nosuch=debug")
    check(r.returncode == 2 and "'nosuch': no such log component" in r.stderr,
          "a log level for an unknown component exits 2 and names it")
    with open(path, "w") as f:
        f.write('riovd = {\n  log_level = "vhost=loud";\n};\n')
    r = run("--config", path)
    check(r.returncode == 2 and "'loud': not a log level" in r.stderr, "a bad log_level in the config file exits 2")
    r = run("--print-config", env={"RIOV_LOG_LEVEL": "notice"})
    check(r.returncode == 0, "RIOV_LOG_LEVEL=notice is accepted")
    r = run("--rpc-socket", os.path.join(tmp, "x.sock"), env={"RIOV_LOG_LEVEL": "debug,vhost=7,bogus"})
    check(r.returncode == 2 and "RIOV_LOG_LEVEL: 'bogus': not a log level" in r.stderr,
          "a bad RIOV_LOG_LEVEL exits 2 and says which item")


def test_bad_port_fails_start():
    tmp = tmpdir("cli")
    d = Riovd(tmp, 'networks = ( { name = "n"; } );\n'
                   'ports = ( { name = "up0"; type = "eth"; net = "n"; devargs = "net_nosuchdriver0"; } );\n')
    try:
        d.start(timeout=60)
        raise TestFailure("riovd started with an unusable eth port")
    except TestFailure as e:
        check("exited with 1" in str(e), "riovd refuses to start with an unusable port")
        check("eth port up0: devargs 'net_nosuchdriver0' refused: driver 'net_nosuchdriver' is not allowed"
              in d.log_text(), "the log names the port, its devargs and the rule")


def test_eal_probed_device_port():
    """A device EAL probed at start (eal_args) becomes the eth port that names it; a second port
    on the same device is refused with the first one's name."""
    tmp = tmpdir("cli")
    d = Riovd(tmp, 'networks = ( { name = "n"; } );\n'
                   'ports = ( { name = "up0"; type = "eth"; net = "n"; devargs = "net_null0"; } );\n')
    with open(d.cfg) as f:
        text = f.read()
    with open(d.cfg, "w") as f:
        f.write(text.replace("memory_mb = 256;", 'memory_mb = 256; eal_args = "--vdev=net_null0";', 1))
    d.start(timeout=60)
    try:
        ctl = Riovctl(os.path.join(tmp, "riovd.sock"))
        ports = ctl.json("port", "list")["ports"]
        check([p["spec"]["name"] for p in ports] == ["up0"], "the port on the device EAL probed is up")
        r = ctl.run("port", "add", "eth", "up1", "--net", "n", "--devargs", "net_null0")
        check(r.returncode != 0 and "already port up0" in r.stderr,
              "a second port on that device is refused: " + r.stderr.strip())
    finally:
        d.stop()


def test_bad_worker_list():
    tmp = tmpdir("cli")
    r = run("--workers", "x-y", "--socket-dir", tmp, "--state-dir", tmp + "/s", "--rpc-socket", tmp + "/r.sock")
    check(r.returncode == 1 and "bad worker CPU list 'x-y'" in r.stderr, "a bad CPU list is reported")


if __name__ == "__main__":
    main([test_help, test_bad_config_file, test_bad_port_fails_start, test_eal_probed_device_port,
          test_bad_worker_list])
