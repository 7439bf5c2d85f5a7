"""The bpf(2) system call through ctypes, for the commands the oracle needs.

Layouts follow include/uapi/linux/bpf.h (`union bpf_attr`, `struct bpf_prog_info`).
Each attr is packed into a zeroed buffer no larger than the kernel's union, which
the kernel accepts (bpf_check_uarg_tail_zero). Every file descriptor is owned by
an `Fd`, a context manager that closes it on any exit, KeyboardInterrupt included.

Only loading and test runs are offered: nothing here attaches or pins.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import os
import platform
import struct
from dataclasses import dataclass
from types import TracebackType

__all__ = [
    "ATTACH_TYPES",
    "MAP_TYPES",
    "PROG_TYPES",
    "BpfError",
    "Fd",
    "JitedLine",
    "LoadResult",
    "ProgInfo",
    "ProgLoadAttr",
    "TestRun",
    "btf_load",
    "loaded_prog_ids",
    "map_create",
    "map_freeze",
    "map_update",
    "prog_get_next_id",
    "prog_info",
    "prog_load",
    "prog_test_run",
]

# enum bpf_cmd (include/uapi/linux/bpf.h)
MAP_CREATE = 0
MAP_UPDATE_ELEM = 2
PROG_LOAD = 5
PROG_TEST_RUN = 10
PROG_GET_NEXT_ID = 11
OBJ_GET_INFO_BY_FD = 15
BTF_LOAD = 18
MAP_FREEZE = 22

_SYSCALL_BPF = {"x86_64": 321, "aarch64": 280}


def _names(text: str) -> list[str]:
    return text.split()


# enum bpf_prog_type, by the suffix of BPF_PROG_TYPE_*, lower case.
PROG_TYPES: dict[str, int] = {
    name: value
    for value, name in enumerate(
        _names(
            "unspec socket_filter kprobe sched_cls sched_act tracepoint xdp perf_event cgroup_skb cgroup_sock"
            " lwt_in lwt_out lwt_xmit sock_ops sk_skb cgroup_device sk_msg raw_tracepoint cgroup_sock_addr"
            " lwt_seg6local lirc_mode2 sk_reuseport flow_dissector cgroup_sysctl raw_tracepoint_writable"
            " cgroup_sockopt tracing struct_ops ext lsm sk_lookup syscall netfilter"
        )
    )
}

# enum bpf_map_type, by the suffix of BPF_MAP_TYPE_*, lower case.
MAP_TYPES: dict[str, int] = {
    name: value
    for value, name in enumerate(
        _names(
            "unspec hash array prog_array perf_event_array percpu_hash percpu_array stack_trace cgroup_array"
            " lru_hash lru_percpu_hash lpm_trie array_of_maps hash_of_maps devmap sockmap cpumap xskmap sockhash"
            " cgroup_storage reuseport_sockarray percpu_cgroup_storage queue stack sk_storage devmap_hash"
            " struct_ops ringbuf inode_storage task_storage bloom_filter user_ringbuf cgrp_storage arena"
        )
    )
}

# enum bpf_attach_type, by the suffix of BPF_*, lower case (trace_fentry, xdp, ...).
ATTACH_TYPES: dict[str, int] = {
    name: value
    for value, name in enumerate(
        _names(
            "cgroup_inet_ingress cgroup_inet_egress cgroup_inet_sock_create cgroup_sock_ops sk_skb_stream_parser"
            " sk_skb_stream_verdict cgroup_device sk_msg_verdict cgroup_inet4_bind cgroup_inet6_bind"
            " cgroup_inet4_connect cgroup_inet6_connect cgroup_inet4_post_bind cgroup_inet6_post_bind"
            " cgroup_udp4_sendmsg cgroup_udp6_sendmsg lirc_mode2 flow_dissector cgroup_sysctl cgroup_udp4_recvmsg"
            " cgroup_udp6_recvmsg cgroup_getsockopt cgroup_setsockopt trace_raw_tp trace_fentry trace_fexit"
            " modify_return lsm_mac trace_iter cgroup_inet4_getpeername cgroup_inet6_getpeername"
            " cgroup_inet4_getsockname cgroup_inet6_getsockname xdp_devmap cgroup_inet_sock_release xdp_cpumap"
            " sk_lookup xdp sk_skb_verdict sk_reuseport_select sk_reuseport_select_or_migrate perf_event"
            " trace_kprobe_multi lsm_cgroup struct_ops netfilter tcx_ingress tcx_egress"
        )
    )
}

_BPF_OBJ_NAME_LEN = 16
_PROG_INFO_SIZE = 232  # sizeof(struct bpf_prog_info) in 6.x
_LINE_INFO_REC = 16  # sizeof(struct bpf_line_info)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class BpfError(OSError):
    """bpf() failed; `errno` is set, `command` names the bpf_cmd."""

    def __init__(self, err: int, command: str, detail: str = "") -> None:
        text = f"bpf({command}): {os.strerror(err)}"
        super().__init__(err, text + (f": {detail}" if detail else ""))
        self.command = command
        self.detail = detail


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_char], name: str) -> int:
    number = _SYSCALL_BPF.get(platform.machine())
    if number is None:
        raise BpfError(errno_mod.ENOSYS, name, f"no bpf() syscall number for {platform.machine()}")
    while True:
        ret = int(_libc.syscall(ctypes.c_long(number), ctypes.c_int(cmd), attr, ctypes.c_uint(len(attr))))
        if ret >= 0:
            return ret
        err = ctypes.get_errno()
        if err != errno_mod.EINTR:  # bpf() itself restarts; EINTR only if a signal arrived
            raise BpfError(err, name)


def _addr(buf: ctypes.Array[ctypes.c_char] | None) -> int:
    return ctypes.addressof(buf) if buf is not None else 0


def _buf(data: bytes) -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(data, len(data)) if data else ctypes.create_string_buffer(1)


class Fd:
    """A kernel object's file descriptor (map, program, BTF), closed on exit."""

    __slots__ = ("_fd", "kind")

    def __init__(self, fd: int, kind: str) -> None:
        self._fd = fd
        self.kind = kind

    @property
    def fd(self) -> int:
        if self._fd < 0:
            raise ValueError(f"{self.kind} fd is closed")
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> Fd:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:  # last resort; callers close through `with`
        if getattr(self, "_fd", -1) >= 0:
            self.close()

    def __repr__(self) -> str:
        return f"Fd({self._fd}, {self.kind!r})"


# ---------------------------------------------------------------- maps


def map_create(
    map_type: int,
    key_size: int,
    value_size: int,
    max_entries: int,
    *,
    flags: int = 0,
    name: str = "",
    btf_fd: int = 0,
    btf_key_type_id: int = 0,
    btf_value_type_id: int = 0,
    btf_vmlinux_value_type_id: int = 0,
    map_extra: int = 0,
) -> Fd:
    """BPF_MAP_CREATE."""
    attr = ctypes.create_string_buffer(72)
    struct.pack_into("<IIIIIII", attr, 0, map_type, key_size, value_size, max_entries, flags, 0, 0)
    struct.pack_into("16s", attr, 28, _obj_name(name))
    struct.pack_into("<IIIII", attr, 44, 0, btf_fd, btf_key_type_id, btf_value_type_id, btf_vmlinux_value_type_id)
    struct.pack_into("<Q", attr, 64, map_extra)
    return Fd(_bpf(MAP_CREATE, attr, "BPF_MAP_CREATE"), "map")


def map_update(map_fd: Fd, key: bytes, value: bytes, flags: int = 0) -> None:
    """BPF_MAP_UPDATE_ELEM."""
    kbuf, vbuf = _buf(key), _buf(value)
    attr = ctypes.create_string_buffer(32)
    struct.pack_into("<IIQQQ", attr, 0, map_fd.fd, 0, _addr(kbuf), _addr(vbuf), flags)
    _bpf(MAP_UPDATE_ELEM, attr, "BPF_MAP_UPDATE_ELEM")


def map_freeze(map_fd: Fd) -> None:
    """BPF_MAP_FREEZE (libbpf freezes .rodata after writing it: bpf_object__populate_internal_map)."""
    attr = ctypes.create_string_buffer(8)
    struct.pack_into("<I", attr, 0, map_fd.fd)
    _bpf(MAP_FREEZE, attr, "BPF_MAP_FREEZE")


def _obj_name(name: str) -> bytes:
    # The kernel accepts alnum, '_' and '.' (bpf_obj_name_cpy); libbpf truncates to 15.
    clean = "".join(c if c.isalnum() or c in "_." else "_" for c in name)[: _BPF_OBJ_NAME_LEN - 1]
    return clean.encode().ljust(_BPF_OBJ_NAME_LEN, b"\0")


# ---------------------------------------------------------------- BTF


def btf_load(data: bytes, *, log_level: int = 1) -> Fd:
    """BPF_BTF_LOAD; on failure the BpfError's detail is the kernel's BTF log."""
    blob = _buf(data)
    size = 1 << 16
    attr = ctypes.create_string_buffer(28)
    log = ctypes.create_string_buffer(size)
    struct.pack_into("<QQIII", attr, 0, _addr(blob), _addr(log), len(data), size, log_level)
    try:
        return Fd(_bpf(BTF_LOAD, attr, "BPF_BTF_LOAD"), "btf")
    except BpfError as exc:
        raise BpfError(exc.errno or 0, "BPF_BTF_LOAD", log.value.decode(errors="replace").strip()) from None


# ---------------------------------------------------------------- programs


@dataclass(frozen=True, slots=True)
class ProgLoadAttr:
    """The BPF_PROG_LOAD fields the oracle sets."""

    prog_type: int
    insns: bytes
    license: str = "GPL"
    name: str = ""
    expected_attach_type: int = 0
    prog_btf_fd: int = 0
    func_info: bytes = b""  # packed struct bpf_func_info records
    func_info_cnt: int = 0
    line_info: bytes = b""  # packed struct bpf_line_info records
    line_info_cnt: int = 0
    fd_array: tuple[int, ...] = ()
    attach_btf_id: int = 0
    attach_btf_obj_fd: int = 0
    log_level: int = 0
    prog_flags: int = 0


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What BPF_PROG_LOAD returned: a program fd (owned by the caller), or the errno; and the log."""

    fd: Fd | None
    errno: int
    log: str


_LOG_START = 1 << 20
_LOG_MAX = 1 << 30  # the kernel's UINT_MAX >> 2 cap (bpf_vlog_init)


def prog_load(spec: ProgLoadAttr) -> LoadResult:
    """BPF_PROG_LOAD, growing the log buffer until the whole verifier log fits.

    The kernel reports the size it needed in `log_true_size` (bpf_vlog_finalize);
    ENOSPC with a full log means retry with a bigger buffer.
    """
    size = _LOG_START if spec.log_level else 0
    while True:
        result, true_size = _prog_load_once(spec, size)
        if result.errno != errno_mod.ENOSPC or not spec.log_level or size >= _LOG_MAX:
            return result
        size = min(_LOG_MAX, max(size * 4, true_size + 1))


def _prog_load_once(spec: ProgLoadAttr, log_size: int) -> tuple[LoadResult, int]:
    insns = _buf(spec.insns)
    lic = ctypes.create_string_buffer(spec.license.encode())
    log = ctypes.create_string_buffer(log_size) if log_size else None
    finfo = _buf(spec.func_info) if spec.func_info_cnt else None
    linfo = _buf(spec.line_info) if spec.line_info_cnt else None
    fds = (ctypes.c_int * len(spec.fd_array))(*spec.fd_array) if spec.fd_array else None
    attr = ctypes.create_string_buffer(152)
    struct.pack_into(
        "<IIQQIIQII",
        attr,
        0,
        spec.prog_type,
        len(spec.insns) // 8,
        _addr(insns),
        ctypes.addressof(lic),
        spec.log_level if log_size else 0,
        log_size,
        _addr(log),
        0,
        spec.prog_flags,
    )
    struct.pack_into("16s", attr, 48, _obj_name(spec.name))
    struct.pack_into(
        "<IIIIQIIQIII",
        attr,
        64,
        0,  # prog_ifindex
        spec.expected_attach_type,
        spec.prog_btf_fd,
        8 if finfo is not None else 0,
        _addr(finfo),
        spec.func_info_cnt,
        _LINE_INFO_REC if linfo is not None else 0,
        _addr(linfo),
        spec.line_info_cnt,
        spec.attach_btf_id,
        spec.attach_btf_obj_fd,
    )
    struct.pack_into("<IQ", attr, 116, 0, ctypes.addressof(fds) if fds is not None else 0)
    try:
        fd = _bpf(PROG_LOAD, attr, "BPF_PROG_LOAD")
    except BpfError as exc:
        text = log.value.decode(errors="replace") if log is not None else ""
        (true_size,) = struct.unpack_from("<I", attr, 140)
        return LoadResult(None, exc.errno or 0, text), true_size
    text = log.value.decode(errors="replace") if log is not None else ""
    return LoadResult(Fd(fd, "prog"), 0, text), 0


@dataclass(frozen=True, slots=True)
class TestRun:
    """BPF_PROG_TEST_RUN's outputs: `duration` is the kernel's mean ns per repeat."""

    retval: int
    duration_ns: int
    data_out: bytes
    ctx_out: bytes = b""  # bpf_ctx_finish's copy of the context (only when asked for: ctx_out_size)


DATA_OUT_SLACK = 1 << 16


def prog_test_run(
    prog: Fd,
    data_in: bytes = b"",
    *,
    ctx_in: bytes = b"",
    repeat: int = 1,
    data_out_size: int | None = None,
    ctx_out_size: int = 0,
) -> TestRun:
    """BPF_PROG_TEST_RUN (bpf_prog_test_run_skb and friends). A `ctx_out_size` asks for the context
    back; note that bpf_ctx_init then gives the run a context even without `ctx_in` (a zeroed one)."""
    din = _buf(data_in) if data_in else None
    # room for what the program may grow the packet to (bpf_xdp_adjust_tail up to a page, the skb
    # helpers further): a smaller data_out is -ENOSPC from bpf_test_finish, not the run's result
    out_size = len(data_in) + DATA_OUT_SLACK if data_out_size is None else data_out_size
    dout = ctypes.create_string_buffer(out_size) if out_size else None
    cin = _buf(ctx_in) if ctx_in else None
    cout = ctypes.create_string_buffer(ctx_out_size) if ctx_out_size else None
    attr = ctypes.create_string_buffer(80)
    struct.pack_into(
        "<IIIIQQIIIIQQ",
        attr,
        0,
        prog.fd,
        0,
        len(data_in),
        out_size,
        _addr(din),
        _addr(dout),
        repeat,
        0,
        len(ctx_in),
        ctx_out_size,
        _addr(cin),
        _addr(cout),
    )
    _bpf(PROG_TEST_RUN, attr, "BPF_PROG_TEST_RUN")
    retval, _, size_out = struct.unpack_from("<III", attr, 4)
    (duration,) = struct.unpack_from("<I", attr, 36)
    (ctx_size_out,) = struct.unpack_from("<I", attr, 44)
    out = dout.raw[: min(size_out, out_size)] if dout is not None else b""
    ctx = cout.raw[: min(ctx_size_out, ctx_out_size)] if cout is not None else b""
    return TestRun(retval, duration, out, ctx)


@dataclass(frozen=True, slots=True)
class JitedLine:
    """One `bpf_line_info` record of the loaded program and where the JIT put it."""

    insn_off: int  # index into the xlated program
    line: int
    col: int
    jited_addr: int  # kernel address of the first native instruction (jited_line_info)


@dataclass(frozen=True, slots=True)
class ProgInfo:
    """`struct bpf_prog_info` of a loaded program, with the arrays the JIT issue compares."""

    id: int
    prog_type: int
    name: str
    tag: bytes
    xlated_prog_len: int
    jited_prog_len: int
    jited_prog_insns: bytes
    xlated_prog_insns: bytes  # the instructions after the verifier's rewrites (what `bpftool prog dump xlated` reads)
    jited_ksyms: tuple[int, ...]  # kernel address of each JITed function (main first)
    jited_func_lens: tuple[int, ...]
    jited_lines: tuple[JitedLine, ...]
    verified_insns: int
    btf_id: int


def _info_call(prog: Fd, info: ctypes.Array[ctypes.c_char]) -> None:
    attr = ctypes.create_string_buffer(16)
    struct.pack_into("<IIQ", attr, 0, prog.fd, len(info), ctypes.addressof(info))
    _bpf(OBJ_GET_INFO_BY_FD, attr, "BPF_OBJ_GET_INFO_BY_FD")


def prog_info(prog: Fd) -> ProgInfo:
    """BPF_OBJ_GET_INFO_BY_FD twice, as bpftool does: counts first, then the arrays."""
    first = ctypes.create_string_buffer(_PROG_INFO_SIZE)
    _info_call(prog, first)
    jited_len, want_xlated = struct.unpack_from("<II", first, 16)
    nr_ksyms, nr_lens = struct.unpack_from("<II", first, 104)
    (nr_line_info,) = struct.unpack_from("<I", first, 148)
    (nr_jited_line_info,) = struct.unpack_from("<I", first, 168)

    image = ctypes.create_string_buffer(max(jited_len, 1))
    xlated = ctypes.create_string_buffer(max(want_xlated, 1))
    ksyms = (ctypes.c_uint64 * max(nr_ksyms, 1))()
    lens = (ctypes.c_uint32 * max(nr_lens, 1))()
    lines = ctypes.create_string_buffer(max(nr_line_info, 1) * _LINE_INFO_REC)
    jlines = (ctypes.c_uint64 * max(nr_jited_line_info, 1))()

    second = ctypes.create_string_buffer(_PROG_INFO_SIZE)
    struct.pack_into("<IIQQ", second, 16, jited_len, want_xlated, ctypes.addressof(image), ctypes.addressof(xlated))
    struct.pack_into("<IIQQ", second, 104, nr_ksyms, nr_lens, ctypes.addressof(ksyms), ctypes.addressof(lens))
    if nr_line_info:
        struct.pack_into("<I", second, 148, nr_line_info)
        struct.pack_into(
            "<QQII", second, 152, ctypes.addressof(lines), ctypes.addressof(jlines), nr_jited_line_info, 16
        )
        struct.pack_into("<I", second, 176, 8)  # jited_line_info_rec_size
    _info_call(prog, second)

    ptype, pid = struct.unpack_from("<II", second, 0)
    got_jited_len, xlated_len = struct.unpack_from("<II", second, 16)
    name = second.raw[64:80].split(b"\0", 1)[0].decode(errors="replace")
    (btf_id,) = struct.unpack_from("<I", second, 128)
    (verified,) = struct.unpack_from("<I", second, 216)
    records: list[JitedLine] = []
    if nr_line_info and nr_jited_line_info:
        for i in range(min(nr_line_info, nr_jited_line_info)):
            insn_off, _file_off, _line_off, line_col = struct.unpack_from("<IIII", lines, i * _LINE_INFO_REC)
            records.append(JitedLine(insn_off, line_col >> 10, line_col & 0x3FF, int(jlines[i])))
    return ProgInfo(
        id=pid,
        prog_type=ptype,
        name=name,
        tag=second.raw[8:16],
        xlated_prog_len=xlated_len,
        jited_prog_len=got_jited_len,
        jited_prog_insns=image.raw[: min(got_jited_len, jited_len)],
        xlated_prog_insns=xlated.raw[: min(xlated_len, want_xlated)],
        jited_ksyms=tuple(int(ksyms[i]) for i in range(nr_ksyms)),
        jited_func_lens=tuple(int(lens[i]) for i in range(nr_lens)),
        jited_lines=tuple(records),
        verified_insns=verified,
        btf_id=btf_id,
    )


def prog_get_next_id(start_id: int) -> int | None:
    """BPF_PROG_GET_NEXT_ID: the next loaded program id after `start_id`, or None."""
    attr = ctypes.create_string_buffer(12)
    struct.pack_into("<I", attr, 0, start_id)
    try:
        _bpf(PROG_GET_NEXT_ID, attr, "BPF_PROG_GET_NEXT_ID")
    except BpfError as exc:
        if exc.errno == errno_mod.ENOENT:
            return None
        raise
    (next_id,) = struct.unpack_from("<I", attr, 4)
    return int(next_id)


def loaded_prog_ids() -> frozenset[int]:
    """Every program id loaded in the kernel right now."""
    ids: set[int] = set()
    current = prog_get_next_id(0)
    while current is not None:
        ids.add(current)
        current = prog_get_next_id(current)
    return frozenset(ids)
