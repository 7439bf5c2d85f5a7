"""Kernel objects a run can find: tasks, sockets, cgroups, from the program's declared input.

Default (an empty `RunInput`): what BPF_PROG_TEST_RUN finds in a fresh network
namespace: the current task (and pids 1 and 2, which every Linux has), no
sockets, the root cgroup. An input may declare
more tasks (by pid), listening or connected sockets, cgroups, and map contents.

Objects are regions of the emulated address space laid out as the running
kernel lays them out where the corpus reads them (task_struct.pid/tgid and
cgroup.level through CO-RE, at the offsets /sys/kernel/btf/vmlinux gives, else at
programs/include/bakeoff.h's local layout); sockets are `struct bpf_sock`, which is
what a program's loads through a PTR_TO_SOCKET read (bpf_sock_convert_ctx_access).
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field

from framework.errors import InputError
from framework.kernel.memory import AddressSpace, Region
from framework.load.btf import Btf, Kind
from framework.load.core import vmlinux_btf
from framework.load.corpus import CgroupSpec, MapEntry, RunInput, SocketSpec

__all__ = [
    "CURRENT_PID",
    "ROOT_CGROUP_ID",
    "CgroupSpec",
    "KernelObject",
    "MapEntry",
    "Objects",
    "RunInput",
    "SocketSpec",
]

CURRENT_PID = 1000  # the task running BPF_PROG_TEST_RUN (any pid; fixed for determinism)
ALWAYS_PIDS = (1, 2)  # init and kthreadd: every Linux has them, whatever the input declares
ROOT_CGROUP_ID = 1  # cgroup v2 root's kernfs id
TCP_LISTEN, TCP_ESTABLISHED = 10, 1  # include/net/tcp_states.h
AF_INET, AF_INET6 = 2, 10
SOCK_STREAM, SOCK_DGRAM = 1, 2
IPPROTO_TCP, IPPROTO_UDP = 6, 17
BPF_SOCK_SIZE = 80  # sizeof(struct bpf_sock), uapi


@dataclass(eq=False, slots=True)
class KernelObject:
    kind: str  # "task", "socket", "cgroup"
    region: Region
    key: int  # pid, cgroup id, or socket index
    refs: int = 1  # the kernel's own reference (the object outlives the run)
    spec: SocketSpec | None = None

    @property
    def addr(self) -> int:
        return self.region.base


def _member_offset(btf: Btf, type_id: int, name: str) -> int | None:
    """Bit offset of member `name` in a struct/union, looking through anonymous members."""
    t = btf.type(btf.skip_mods(type_id))
    if t.kind not in (Kind.STRUCT, Kind.UNION):
        return None
    for m in t.members():
        m_name = btf.string(m.name_off)
        if m_name == name:
            return m.bit_offset
        if not m_name:
            inner = _member_offset(btf, m.type, name)
            if inner is not None:
                return m.bit_offset + inner
    return None


@functools.cache
def _layout(struct: str, fields: tuple[str, ...], fallback: tuple[int, ...], fallback_size: int) -> tuple[int, ...]:
    """Byte offsets of `fields` in vmlinux's `struct`, and its size last; the fallback without BTF."""
    btf = vmlinux_btf()
    if btf is not None:
        type_id = btf.find(struct, Kind.STRUCT)
        if type_id is not None:
            offsets = []
            for name in fields:
                bits = _member_offset(btf, type_id, name)
                if bits is None:
                    break
                offsets.append(bits // 8)
            else:
                return (*offsets, btf.size(type_id))
    return (*fallback, fallback_size)


def task_layout() -> tuple[int, int, int]:
    """(offset of pid, offset of tgid, sizeof(struct task_struct))."""
    pid, tgid, size = _layout("task_struct", ("pid", "tgid"), (0, 4), 8)
    return pid, tgid, size


def cgroup_layout() -> tuple[int, int]:
    """(offset of level, sizeof(struct cgroup))."""
    level, size = _layout("cgroup", ("level",), (0,), 8)
    return level, size


def _addr_port(text: str, family: str) -> tuple[bytes, int]:
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    addr = ipaddress.ip_address(host)
    if (addr.version == 4) != (family == "ipv4"):
        raise InputError("input", f"socket address {text} is not {family}")
    return addr.packed, int(port)


@dataclass(slots=True)
class Objects:
    """The kernel objects of one run."""

    memory: AddressSpace
    tasks: dict[int, KernelObject] = field(default_factory=dict)
    cgroups: dict[int, KernelObject] = field(default_factory=dict)
    sockets: list[KernelObject] = field(default_factory=list)
    current: KernelObject | None = None

    @classmethod
    def build(cls, memory: AddressSpace, run_input: RunInput) -> Objects:
        objects = cls(memory)
        objects.current = objects._task(CURRENT_PID)
        for pid in (*ALWAYS_PIDS, *run_input.tasks):
            if pid not in objects.tasks:
                objects._task(pid)
        objects._cgroup(ROOT_CGROUP_ID, 0)
        for cg in run_input.cgroups:
            objects._cgroup(cg.id, cg.level)
        for spec in run_input.sockets:
            objects._socket(spec)
        return objects

    def _task(self, pid: int) -> KernelObject:
        pid_off, tgid_off, size = task_layout()
        data = bytearray(size)
        data[pid_off : pid_off + 4] = pid.to_bytes(4, "little", signed=True)
        data[tgid_off : tgid_off + 4] = pid.to_bytes(4, "little", signed=True)
        obj = KernelObject("task", self.memory.map(f"task {pid}", "object", data), pid)
        self.tasks[pid] = obj
        return obj

    def _cgroup(self, cgroup_id: int, level: int) -> KernelObject:
        level_off, size = cgroup_layout()
        data = bytearray(size)
        data[level_off : level_off + 4] = level.to_bytes(4, "little", signed=True)
        obj = KernelObject("cgroup", self.memory.map(f"cgroup {cgroup_id}", "object", data), cgroup_id)
        self.cgroups[cgroup_id] = obj
        return obj

    def _socket(self, spec: SocketSpec) -> KernelObject:
        local, lport = _addr_port(spec.local, spec.family)
        remote, rport = _addr_port(spec.remote, spec.family) if spec.remote else (bytes(len(local)), 0)
        data = bytearray(BPF_SOCK_SIZE)
        six = spec.family == "ipv6"

        def put(off: int, value: int, size: int = 4, order: str = "little") -> None:
            data[off : off + size] = value.to_bytes(size, order)  # type: ignore[arg-type]

        put(4, AF_INET6 if six else AF_INET)
        put(8, SOCK_STREAM if spec.proto == "tcp" else SOCK_DGRAM)
        put(12, IPPROTO_TCP if spec.proto == "tcp" else IPPROTO_UDP)
        if six:
            data[28:44], data[56:72] = local, remote
        else:
            data[24:28], data[52:56] = local, remote
        put(44, lport)  # src_port: host order
        put(48, rport, 2, "big")  # dst_port: network order
        put(72, TCP_LISTEN if spec.state == "listen" else TCP_ESTABLISHED)
        obj = KernelObject(
            "socket", self.memory.map(f"socket {spec.local}", "object", data), len(self.sockets), spec=spec
        )
        self.sockets.append(obj)
        return obj

    def find_task(self, pid: int) -> KernelObject | None:
        return self.tasks.get(pid)

    def find_socket(
        self, proto: str, family: str, daddr: bytes, dport: int, saddr: bytes, sport: int
    ) -> KernelObject | None:
        """__inet_lookup: an established socket on the full 4-tuple first, then a listener on daddr:dport."""
        for sock in self.sockets:
            spec = sock.spec
            assert spec is not None
            if spec.proto != proto or spec.family != family or spec.state == "listen" or spec.remote is None:
                continue
            if _addr_port(spec.local, family) == (daddr, dport) and _addr_port(spec.remote, family) == (saddr, sport):
                return sock
        for sock in self.sockets:
            spec = sock.spec
            assert spec is not None
            if spec.proto != proto or spec.family != family or spec.state != "listen":
                continue
            addr, port = _addr_port(spec.local, family)
            if port == dport and (addr == daddr or not any(addr)):
                return sock
        return None

    def by_address(self, addr: int) -> KernelObject | None:
        for group in (self.tasks.values(), self.cgroups.values(), self.sockets):
            for obj in group:
                if obj.addr == addr:
                    return obj
        return None
