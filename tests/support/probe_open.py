#!/usr/bin/python3
"""probe_open.py PID MODE PATH: makes the live process PID itself call
openat(AT_FDCWD, PATH, MODE) and prints the result: "fd" when it opened the
file (which is closed again at once) or the errno name ("EACCES").

Why: a Landlock domain cannot be entered from outside (it is no namespace),
so the only way to know what a running confined process may open is to have
it try.  The calls are injected with ptrace (x86_64 only): stop the process,
save its registers, point it at a syscall instruction with the arguments set,
single-step, read the result, restore everything and let it go.  The process
is stopped in a system call (poll), so the instruction just before its
instruction pointer is that `syscall`; its interrupted call is restarted as
the kernel would have done.  MODE: "r" (O_RDONLY), "w" (O_WRONLY),
"c" (O_WRONLY|O_CREAT, mode 0644).  Needs CAP_SYS_PTRACE (the process is not
dumpable).  Exit 0 with the result, 77 when this cannot be done here."""
import ctypes
import errno
import os
import platform
import sys

PTRACE_PEEKDATA, PTRACE_POKEDATA = 2, 5
PTRACE_SINGLESTEP, PTRACE_GETREGS, PTRACE_SETREGS = 9, 12, 13
PTRACE_ATTACH, PTRACE_DETACH = 16, 17
SYS_CLOSE, SYS_OPENAT = 3, 257
AT_FDCWD = -100
MODES = {"r": os.O_RDONLY, "w": os.O_WRONLY, "c": os.O_WRONLY | os.O_CREAT}


class Regs(ctypes.Structure):
    _fields_ = [(name, ctypes.c_ulonglong) for name in (
        "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax "
        "rip cs eflags rsp ss fs_base gs_base ds es fs gs").split()]


libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long


def ptrace(request, pid, addr=0, data=0):
    ctypes.set_errno(0)
    rc = libc.ptrace(request, pid, ctypes.c_void_p(addr), ctypes.c_void_p(data))
    if rc == -1 and ctypes.get_errno():
        raise OSError(ctypes.get_errno(), "ptrace(%d)" % request)
    return rc


def stopped(pid):
    _, status = os.waitpid(pid, os.__dict__.get("__WALL", 0x40000000))
    if not os.WIFSTOPPED(status):
        raise OSError(errno.ESRCH, "process %d did not stop" % pid)


def syscall(pid, base, at, number, *args):
    """Runs one system call in pid from the `syscall` instruction at `at`."""
    regs = Regs.from_buffer_copy(base)
    regs.rip, regs.rax, regs.orig_rax = at, number, 2**64 - 1
    for name, value in zip(("rdi", "rsi", "rdx", "r10"), args):
        setattr(regs, name, value % 2**64)
    ptrace(PTRACE_SETREGS, pid, 0, ctypes.addressof(regs))
    ptrace(PTRACE_SINGLESTEP, pid)
    stopped(pid)
    ptrace(PTRACE_GETREGS, pid, 0, ctypes.addressof(regs))
    result = regs.rax
    return result - 2**64 if result >= 2**63 else result


def probe(pid, mode, path):
    saved = Regs()
    ptrace(PTRACE_ATTACH, pid)
    try:
        stopped(pid)
        ptrace(PTRACE_GETREGS, pid, 0, ctypes.addressof(saved))
    except OSError:
        ptrace(PTRACE_DETACH, pid)
        raise
    try:
        at = saved.rip - 2
        word = ptrace(PTRACE_PEEKDATA, pid, at) & 0xffff
        if word != 0x050f:
            raise OSError(errno.EINVAL, "process %d is not stopped in a system call" % pid)
        # The path goes well below the stack pointer (and its red zone).
        data = path.encode() + b"\0" * (8 - len(path) % 8)
        addr = (saved.rsp - 4096 - len(data)) & ~15
        for i in range(0, len(data), 8):
            ptrace(PTRACE_POKEDATA, pid, addr + i, int.from_bytes(data[i:i + 8], "little"))
        fd = syscall(pid, saved, at, SYS_OPENAT, AT_FDCWD, addr, MODES[mode], 0o644)
        if fd >= 0:
            syscall(pid, saved, at, SYS_CLOSE, fd)
    finally:
        ptrace(PTRACE_SETREGS, pid, 0, ctypes.addressof(saved))
        ptrace(PTRACE_DETACH, pid)
    return "fd" if fd >= 0 else errno.errorcode.get(-fd, str(-fd))


def main():
    if len(sys.argv) != 4 or sys.argv[2] not in MODES:
        sys.exit("usage: probe_open.py PID r|w|c PATH")
    if platform.machine() != "x86_64":
        print("probe_open.py: x86_64 only", file=sys.stderr)
        sys.exit(77)
    try:
        print(probe(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
    except OSError as e:
        print("probe_open.py: %s" % e, file=sys.stderr)
        sys.exit(77 if e.errno in (errno.EPERM, errno.EINVAL) else 1)


if __name__ == "__main__":
    main()
