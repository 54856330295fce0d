#!/usr/bin/python3
"""Builds a pip strategy's tarball offline, for tests (docs/strategies.md, format = pip).

    pip_tarball.py WORK OUT VERSION [BEHAVIOUR] [--no-dep]

OUT (.tar.gz) holds, in one top directory, two wheels built with the system's
setuptools and wheel (`pip wheel --no-index --no-build-isolation`): the agent
distribution `trove-guestagent` at VERSION, whose console script
`trove-guestagent` imports its dependency, appends "pip-agent VERSION
slot=S dep=D" to $AGENT_LOG, then sends READY=1 to $NOTIFY_SOCKET and
sleeps (BEHAVIOUR good) or exits 3 (crash); and the dependency `guestdep`
0.3 (left out with --no-dep).  WORK caches the dependency's wheel.
"""
import os
import subprocess
import sys
import tarfile

AGENT = '''import os, signal, socket, sys, time
import guestdep

def main():
    log = os.environ.get("AGENT_LOG")
    if log:
        with open(log, "a") as f:
            f.write("pip-agent %s slot=%s dep=%s\\n" % ("{version}", os.environ.get("SLOTD_SLOT"), guestdep.VALUE))
    if "{behaviour}" == "crash":
        sys.exit(3)
    ns = os.environ.get("NOTIFY_SOCKET")
    if ns:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(b"READY=1", ns)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    while True:
        time.sleep(3600)
'''


def project(src, name, version, module, code, extra):
    os.makedirs(os.path.join(src, module), exist_ok=True)
    with open(os.path.join(src, module, "__init__.py"), "w") as f:
        f.write(code)
    with open(os.path.join(src, "pyproject.toml"), "w") as f:
        f.write('[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
                '[project]\nname = "%s"\nversion = "%s"\n%s'
                '[tool.setuptools]\npackages = ["%s"]\n' % (name, version, extra, module))


def wheel(src, out):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-index", "--no-build-isolation",
                    "--no-deps", "--quiet", "-w", out, src], check=True,
                   env=dict(os.environ, PIP_CONFIG_FILE="/dev/null", HOME=src))


def main():
    args = [a for a in sys.argv[1:] if a != "--no-dep"]
    work, out, version = args[:3]
    behaviour = args[3] if len(args) > 3 else "good"
    depwheels = os.path.join(work, "dep-wheels")
    if not os.path.isdir(depwheels):
        project(os.path.join(work, "dep-src"), "guestdep", "0.3", "guestdep", 'VALUE = "42"\n', "")
        wheel(os.path.join(work, "dep-src"), depwheels)
    src = os.path.join(work, "agent-%s-%s" % (version, behaviour))
    project(src, "trove-guestagent", version, "trove_guestagent",
            AGENT.format(version=version, behaviour=behaviour),
            'dependencies = ["guestdep"]\n[project.scripts]\n'
            'trove-guestagent = "trove_guestagent:main"\n')
    agentwheels = os.path.join(work, "agent-wheels-%s-%s" % (version, behaviour))
    wheel(src, agentwheels)
    top = "trove-guestagent-%s" % version
    with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        tar.add(agentwheels, arcname=top)
        if "--no-dep" not in sys.argv:
            for name in os.listdir(depwheels):
                tar.add(os.path.join(depwheels, name), arcname=top + "/" + name)


main()
