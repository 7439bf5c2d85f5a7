"""A Unicorn x86-64 machine that runs a `NativeImage` and counts what it executes.

- Helper/kfunc calls land on trap stubs (`int3; ret`): one Python callback per
  call (UC_HOOK_INTR), never one per instruction.
- Instructions are counted by the image itself when it was JITed with a counter
  (`framework.jit.counters`: no callback at all), otherwise per translated block:
  a UC_HOOK_BLOCK limited to the counted code ranges adds the block's
  instruction count, decoded once per block address with iced-x86. Stubs are
  not counted (their calls are, in `service_calls`).
- The stack high-water mark is measured without per-instruction hooks: the stack
  is painted before the run and scanned after it for the lowest changed byte;
  every rsp decrement in JITed code below a frame's prologue is a push or a call,
  which writes. The one that need not write, the prologue's `sub rsp`, is
  covered by a code hook on each subprog's first instruction (one callback per
  call) that reads rsp and adds the frame's static size (rsp_below_entry).
- A fault (unmapped access, guard page, #DE, invalid opcode) ends the run with
  a `Fault` carrying the BPF pc and a reason; the tool never crashes on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from iced_x86 import Code, Decoder, Instruction, Register
from unicorn import (
    UC_ARCH_X86,
    UC_HOOK_BLOCK,
    UC_HOOK_CODE,
    UC_HOOK_INTR,
    UC_HOOK_MEM_INVALID,
    UC_HOOK_MEM_READ,
    UC_HOOK_MEM_WRITE,
    UC_MEM_FETCH_PROT,
    UC_MEM_FETCH_UNMAPPED,
    UC_MEM_READ_PROT,
    UC_MEM_READ_UNMAPPED,
    UC_MEM_WRITE_PROT,
    UC_MEM_WRITE_UNMAPPED,
    UC_MODE_64,
    UC_PROT_ALL,
    UC_PROT_EXEC,
    UC_PROT_READ,
    UC_PROT_WRITE,
)
from unicorn import x86_const as X
from unicorn.unicorn import Uc, UcError

from framework.fixup.maygoto import BPF_MAX_TIMED_LOOPS, MAY_GOTO_QUANTUM_NS, NSEC_PER_SEC, TIMED_MAY_GOTO
from framework.jit.counters import IN_R9
from framework.jit.image import NativeImage
from framework.kernel.api import KernelFault, NotEmulated
from framework.kernel.kinds import MAX_KINDS
from framework.kernel.memory import Fault as MemoryFault
from framework.machine import memory as mm

_ARG_REGS = (X.UC_X86_REG_RDI, X.UC_X86_REG_RSI, X.UC_X86_REG_RDX, X.UC_X86_REG_RCX, X.UC_X86_REG_R8)
_BPF_REGS = (
    X.UC_X86_REG_RAX, X.UC_X86_REG_RDI, X.UC_X86_REG_RSI, X.UC_X86_REG_RDX, X.UC_X86_REG_RCX,
    X.UC_X86_REG_R8, X.UC_X86_REG_RBX, X.UC_X86_REG_R13, X.UC_X86_REG_R14, X.UC_X86_REG_R15,
)  # fmt: skip
_PAINT = 0xA5
_MEM_REASONS = {
    UC_MEM_READ_UNMAPPED: "read of unmapped memory",
    UC_MEM_WRITE_UNMAPPED: "write to unmapped memory",
    UC_MEM_FETCH_UNMAPPED: "fetch from unmapped memory",
    UC_MEM_READ_PROT: "read of protected memory",
    UC_MEM_WRITE_PROT: "write to protected memory",
    UC_MEM_FETCH_PROT: "fetch from non-executable memory",
}
_TIMED_STUB = mm.helper_stub(TIMED_MAY_GOTO)
_INTR_REASONS = {0: "divide error (#DE)", 6: "invalid opcode (#UD)", 13: "general protection (#GP)"}


def _is_r9_counter(ins: Instruction) -> bool:
    """`add r9, N`: the counter of an image JITed with counter=IN_R9 (the JIT never uses r9 otherwise)."""
    return ins.code in (Code.ADD_RM64_IMM8, Code.ADD_RM64_IMM32) and ins.op0_register == Register.R9


@dataclass(frozen=True, slots=True)
class Fault:
    """Why a run stopped early, where (BPF pc when the address is JITed code)."""

    reason: str
    rip: int
    pc: int | None
    address: int | None = None  # the faulting data address, for memory faults
    unsupported: bool = False  # a service the emulated kernel does not model (NotEmulated)

    def __str__(self) -> str:
        where = f"pc {self.pc}" if self.pc is not None else f"rip 0x{self.rip:x}"
        what = f" at 0x{self.address:x}" if self.address is not None else ""
        return f"{where}: {self.reason}{what}"


@dataclass(frozen=True, slots=True)
class MachineRun:
    retval: int  # rax at return (64-bit, unsigned)
    x86_insns: int  # instructions executed in counted ranges
    stack_high_water: int  # bytes below the rsp at entry (which holds the return address)
    service_calls: int  # trap-stub calls into Python services
    fault: Fault | None = None
    split: tuple[tuple[str, int], ...] = ()  # instructions per named runtime range (add_counted)
    timed_out: bool = False  # stopped by the time limit: the other figures are not a result


@dataclass(frozen=True, slots=True)
class ServiceCall:
    """What a Python service sees: which stub, R1-R5, and the machine for memory."""

    kind: str  # "helper", "kfunc" or "callx"
    number: int  # helper id or kfunc index
    args: tuple[int, int, int, int, int]
    machine: Machine


Service = Callable[[ServiceCall], int]


@dataclass(slots=True)
class _RunState:
    count: int = 0
    calls: int = 0
    frame_low: int = 0  # lowest rsp implied by entered frames' static sizes
    fault: Fault | None = None
    pending: list[BaseException] = field(default_factory=list)
    split: dict[str, int] = field(default_factory=dict)
    clock: int = 0  # the emulated ktime of timed may_goto, in ns


class Machine:
    """One Unicorn instance holding one image; `run` may be called many times."""

    def __init__(
        self,
        image: NativeImage,
        helpers: Mapping[int, Service] | None = None,
        kfuncs: Mapping[int, Service] | None = None,
        count_ranges: Sequence[tuple[int, int]] = (),
        count: bool = True,
    ) -> None:
        self.image = image
        self.helpers = dict(helpers or {})
        self.kfuncs = dict(kfuncs or {})
        self.releases: Service | None = None  # an unwinder's releases, by kind (release stubs)
        self.memory_out: Callable[[], None] = lambda: None  # the machine's memory back to the kernel's (the bridge's)
        uc: Any = Uc(UC_ARCH_X86, UC_MODE_64)  # type: ignore[no-untyped-call]  # unicorn is untyped
        uc.ctl_set_cpu_model(X.UC_CPU_X86_EPYC)  # has BMI2, as the JIT assumes by default
        self.uc: Any = uc
        uc.mem_map(mm.STUB_BASE, mm.STUB_SIZE, UC_PROT_READ | UC_PROT_EXEC)
        stub = bytes([0xCC, 0xC3]) + bytes([0xF4]) * (mm.STUB_SLOT - 2)  # int3; ret; hlt...
        uc.mem_write(mm.STUB_BASE, stub * (mm.STUB_SIZE // mm.STUB_SLOT))
        uc.mem_write(mm.RETURN_THUNK, bytes([0xC3, 0xCC]))  # __x86_return_thunk: ret; int3
        size = mm.round_page(max(len(image.code), 1))
        uc.mem_map(image.base, size, UC_PROT_READ | UC_PROT_EXEC)
        uc.mem_write(image.base, image.code)
        uc.mem_map(mm.STACK_BASE, mm.STACK_SIZE, UC_PROT_READ | UC_PROT_WRITE)  # guard page below stays unmapped
        self._regions: dict[str, tuple[int, int]] = {}
        self._data_next = mm.DATA_BASE
        self._blocks: dict[int, int] = {}
        self._entries = {image.base + f.entry: f.rsp_below_entry for f in image.frames}
        self._st = _RunState()
        self._split_names: list[str] = []
        if image.counter == IN_R9:  # the image counts itself in r9
            ranges = list(count_ranges)
        elif image.counter is not None:  # the image counts itself in memory (framework.jit.counters)
            uc.mem_map(image.counter & ~(mm.PAGE - 1), mm.PAGE, UC_PROT_READ | UC_PROT_WRITE)
            ranges = list(count_ranges)
        else:
            ranges = [(image.base, image.base + len(image.code)), (mm.RETURN_THUNK, mm.RETURN_THUNK + 1)]
            ranges += count_ranges
        for lo, hi in ranges if count else ():  # count=False: no block hook
            uc.hook_add(UC_HOOK_BLOCK, self._on_block, begin=lo, end=hi - 1)
        for entry in self._entries:  # one callback per subprog call, for the high-water mark
            uc.hook_add(UC_HOOK_CODE, self._on_entry, begin=entry, end=entry)
        uc.hook_add(UC_HOOK_INTR, self._on_intr)
        uc.hook_add(UC_HOOK_MEM_INVALID, self._on_invalid)

    # -- memory ---------------------------------------------------------------
    def map_region(self, name: str, data: bytes, address: int | None = None, writable: bool = True) -> int:
        """Map `data` (rounded up to pages; at least one page) and return its address."""
        size = mm.round_page(max(len(data), 1))
        if address is None:
            address = self._data_next
            self._data_next += size + mm.PAGE  # an unmapped page between regions
        perms = UC_PROT_READ | (UC_PROT_WRITE if writable else 0)
        self.uc.mem_map(address, size, perms)
        self.uc.mem_write(address, bytes(data))
        self._regions[name] = (address, size)
        return address

    def region(self, name: str) -> tuple[int, int]:
        return self._regions[name]

    def read(self, address: int, size: int) -> bytes:
        return bytes(self.uc.mem_read(address, size))

    def write(self, address: int, data: bytes) -> None:
        self.uc.mem_write(address, data)

    def add_counted(self, name: str, lo: int, hi: int) -> None:
        """Count instructions executed in [lo, hi) apart, as `MachineRun.split[name]`
        (one UC_HOOK_BLOCK callback per block there: for runtimes and exception
        callbacks, which run at throw time). In an image counting in r9, its own
        counter adds (`add r9, N`) are left out, as everywhere."""
        self._split_names.append(name)
        skip_r9 = self.image.counter == IN_R9

        def on_block(uc: Any, address: int, size: int, _user: object) -> None:
            key = -address - 1  # these counts leave the counter adds out; _blocks keeps all
            n = self._blocks.get(key)
            if n is None:
                insns = list(Decoder(64, bytes(uc.mem_read(address, size)), ip=address))
                n = sum(1 for i in insns if not (skip_r9 and _is_r9_counter(i)))
                self._blocks[key] = n
            self._st.split[name] = self._st.split.get(name, 0) + n

        self.uc.hook_add(UC_HOOK_BLOCK, on_block, begin=lo, end=hi - 1)

    def force_branches(self, sides: Mapping[int, tuple[int, int]], decide: Callable[[int], bool | None]) -> None:
        """Force conditional jumps: `sides[address]` is (taken, not-taken) target of the jcc at
        `address`; when `decide(address)` says a side, execution continues there (one callback
        per execution of those jumps only). The block counts stay exact: the jcc's block was
        counted whole, and each target starts a block of its own."""

        def on_jcc(uc: Any, address: int, _size: int, _user: object) -> None:
            side = decide(address)
            if side is not None:
                uc.reg_write(X.UC_X86_REG_RIP, sides[address][0 if side else 1])

        for address in sides:
            self.uc.hook_add(UC_HOOK_CODE, on_jcc, begin=address, end=address)

    def only_from(self, lo: int, hi: int, allowed: frozenset[int], what: str) -> None:
        """Memory [lo, hi) may be read or written only by the image's instructions at BPF pcs in
        `allowed`; any other access (the program's, or a runtime's) ends the run with a fault naming
        the pc. One callback per access of that range only."""

        def on_access(uc: Any, _access: int, address: int, _size: int, _value: int, _user: object) -> None:
            rip = uc.reg_read(X.UC_X86_REG_RIP)
            pc = self._pc(rip)
            if pc is None or pc not in allowed:
                self._stop(Fault(what, rip, pc, address))

        self.uc.hook_add(UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, on_access, begin=lo, end=hi - 1)

    def map_code(self, address: int, code: bytes) -> None:
        """Map more code (a runtime) read-execute at `address`."""
        self.uc.mem_map(address, mm.round_page(max(len(code), 1)), UC_PROT_READ | UC_PROT_EXEC)
        self.uc.mem_write(address, code)

    # -- hooks ----------------------------------------------------------------
    def _on_block(self, uc: Any, address: int, size: int, _user: object) -> None:
        n = self._blocks.get(address)
        if n is None:
            code = bytes(uc.mem_read(address, size))
            n = sum(1 for _ in Decoder(64, code, ip=address))
            self._blocks[address] = n
        self._st.count += n

    def _on_entry(self, uc: Any, address: int, _size: int, _user: object) -> None:
        low = uc.reg_read(X.UC_X86_REG_RSP) - self._entries[address]
        if low < self._st.frame_low:
            self._st.frame_low = low

    def _on_intr(self, uc: Any, intno: int, _user: object) -> None:
        rip = uc.reg_read(X.UC_X86_REG_RIP)
        if intno != 3:
            self._stop(Fault(_INTR_REASONS.get(intno, f"CPU exception {intno}"), rip, self._pc(rip)))
            return
        stub = rip - 1
        if stub == _TIMED_STUB:
            self._timed_may_goto(uc)
            return
        try:
            self._st.calls += 1
            rax = self._dispatch(stub)
            uc.reg_write(X.UC_X86_REG_RAX, rax & 0xFFFFFFFFFFFFFFFF)
        except (KernelFault, MemoryFault, LookupError) as exc:  # refused by the service: a fault at the call
            unmodelled = isinstance(exc, NotEmulated)
            self._stop(Fault(f"service refused the call: {exc}", rip, self.caller_pc(), unsupported=unmodelled))
        except Exception as exc:  # a service's bug: stop and re-raise after emu_start
            self._st.pending.append(exc)
            uc.emu_stop()

    def _timed_may_goto(self, uc: Any) -> None:
        """arch_bpf_timed_may_goto + bpf_check_timed_may_goto (kernel/bpf/core.c): AX (r10) holds the
        count's address (the JIT added rbp to the fp offset) and gets the new count; nothing else
        changes. The clock is emulated: each call advances it by MAY_GOTO_QUANTUM_NS, so the
        quarter-second slice ends after 128 refills of 0xffff (about BPF_MAX_LOOPS iterations), deterministically."""
        p = uc.reg_read(X.UC_X86_REG_R10)
        self._st.clock += MAY_GOTO_QUANTUM_NS
        stamp = int.from_bytes(self.read(p + 8, 8), "little")
        if not stamp:
            self.write(p + 8, self._st.clock.to_bytes(8, "little"))
            count = BPF_MAX_TIMED_LOOPS
        elif self._st.clock - stamp >= NSEC_PER_SEC // 4:
            count = 0
        else:
            count = BPF_MAX_TIMED_LOOPS
        uc.reg_write(X.UC_X86_REG_R10, count)

    def call_nested(self, address: int, args: Sequence[int]) -> int:
        """From inside a service: run the BPF function at `address` with R1.. = args
        (bpf_loop's callback) on the same stack, and return its r0. Its
        instructions are counted like the program's; a fault in it ends the run."""
        uc = self.uc
        saved = uc.context_save()
        rsp = uc.reg_read(X.UC_X86_REG_RSP) - 8
        uc.mem_write(rsp, mm.NESTED_RETURN.to_bytes(8, "little"))
        uc.reg_write(X.UC_X86_REG_RSP, rsp)
        for r, value in zip(_ARG_REGS, args, strict=False):
            uc.reg_write(r, value & 0xFFFFFFFFFFFFFFFF)
        try:
            uc.emu_start(address, mm.NESTED_RETURN)
        except UcError as exc:
            if self._st.fault is None:
                rip = uc.reg_read(X.UC_X86_REG_RIP)
                self._st.fault = Fault(f"emulation error: {exc}", rip, self._pc(rip))
        r0 = int(uc.reg_read(X.UC_X86_REG_RAX))
        stopped = uc.reg_read(X.UC_X86_REG_RIP) != mm.NESTED_RETURN
        counted = uc.reg_read(X.UC_X86_REG_R9)  # the callback's instructions, when the image counts in r9
        uc.context_restore(saved)
        uc.reg_write(X.UC_X86_REG_R9, counted)
        if self._st.fault is not None or stopped:
            raise KernelFault("the BPF callback did not return")
        return r0

    def caller_pc(self) -> int | None:
        """Inside a stub: the BPF pc of the call, from the return address at [rsp]."""
        rsp = self.uc.reg_read(X.UC_X86_REG_RSP)
        ret = int.from_bytes(bytes(self.uc.mem_read(rsp, 8)), "little")
        return self._pc(ret - 1)

    def _dispatch(self, stub: int) -> int:
        uc = self.uc
        args = tuple(uc.reg_read(r) for r in _ARG_REGS)
        if stub == mm.CALLX_STUB:
            kind, number = "callx", uc.reg_read(X.UC_X86_REG_R11)
            service = self.helpers.get(number)
        elif mm.RELEASE_STUBS <= stub < mm.RELEASE_STUBS + mm.STUB_SLOT * MAX_KINDS:
            kind, number = "release", (stub - mm.RELEASE_STUBS) // mm.STUB_SLOT
            service = self.releases
        elif mm.KFUNC_STUBS <= stub < mm.KFUNC_STUBS + mm.STUB_SLOT * mm.MAX_KFUNCS:
            kind, number = "kfunc", (stub - mm.KFUNC_STUBS) // mm.STUB_SLOT
            service = self.kfuncs.get(number)
        else:
            kind, number = "helper", (stub - mm.HELPER_STUBS) // mm.STUB_SLOT
            service = self.helpers.get(number)
        if service is None:
            raise LookupError(f"no service for {kind} {number}")
        return service(ServiceCall(kind, number, (args[0], args[1], args[2], args[3], args[4]), self))

    def _on_invalid(self, uc: Any, access: int, address: int, size: int, value: int, _user: object) -> bool:
        rip = uc.reg_read(X.UC_X86_REG_RIP)
        reason = _MEM_REASONS.get(access, f"memory access type {access}")
        if mm.STACK_BASE - mm.PAGE <= address < mm.STACK_BASE:
            reason = "stack overflow into the guard page"
        self._stop(Fault(reason, rip, self._pc(rip), address))
        return False

    def refuse(self, reason: str, *, unsupported: bool = False) -> None:
        """Stop the run at the instruction executing now (a memory hook's access), for `reason`."""
        rip = self.uc.reg_read(X.UC_X86_REG_RIP)
        self._stop(Fault(reason, rip, self._pc(rip), unsupported=unsupported))

    def _stop(self, fault: Fault) -> None:
        if self._st.fault is None:
            self._st.fault = fault
        self.uc.emu_stop()

    def _pc(self, rip: int) -> int | None:
        off = rip - self.image.base
        if 0 <= off < len(self.image.code):
            return self.image.pc_at(off)
        return None

    # -- running --------------------------------------------------------------
    def run(self, args: Sequence[int] = (), entry: int = 0, timeout_us: int = 0) -> MachineRun:
        """Call subprog `entry` with R1.. = args; return r0 and what the run cost."""
        uc = self.uc
        self._st = _RunState(frame_low=mm.ENTRY_RSP)
        uc.mem_write(mm.STACK_BASE, bytes([_PAINT]) * mm.STACK_SIZE)
        uc.mem_write(mm.ENTRY_RSP, mm.RETURN_ADDRESS.to_bytes(8, "little"))
        for r in _BPF_REGS:
            uc.reg_write(r, 0)
        for r, value in zip(_ARG_REGS, args, strict=False):
            uc.reg_write(r, value & 0xFFFFFFFFFFFFFFFF)
        uc.reg_write(X.UC_X86_REG_RSP, mm.ENTRY_RSP)
        uc.reg_write(X.UC_X86_REG_RBP, 0)
        if self.image.counter is not None and self.image.counter != IN_R9:
            uc.mem_write(self.image.counter, bytes(8))
        uc.reg_write(X.UC_X86_REG_R9, 0)
        start = self.image.base + self.image.frames[entry].entry
        try:
            uc.emu_start(start, mm.RETURN_ADDRESS, timeout=timeout_us)
        except UcError as exc:
            if self._st.fault is None:
                rip = uc.reg_read(X.UC_X86_REG_RIP)
                self._st.fault = Fault(f"emulation error: {exc}", rip, self._pc(rip))
        if self._st.pending:
            raise self._st.pending[0]
        rip = uc.reg_read(X.UC_X86_REG_RIP)
        fault = self._st.fault
        timed_out = fault is None and rip != mm.RETURN_ADDRESS  # emu_start's timeout ended it
        if timed_out:
            fault = Fault(f"stopped by the time limit of {timeout_us / 1e6:g} s", rip, self._pc(rip))
        return MachineRun(
            retval=uc.reg_read(X.UC_X86_REG_RAX),
            x86_insns=self._st.count + self._counted(),
            stack_high_water=mm.ENTRY_RSP - min(self._lowest_write(), self._st.frame_low),
            service_calls=self._st.calls,
            fault=fault,
            split=tuple((n, self._st.split.get(n, 0)) for n in dict.fromkeys(self._split_names)),
            timed_out=timed_out,
        )

    def _counted(self) -> int:
        if self.image.counter is None:
            return 0
        if self.image.counter == IN_R9:
            return int(self.uc.reg_read(X.UC_X86_REG_R9))
        return int.from_bytes(self.read(self.image.counter, 8), "little")

    def _lowest_write(self) -> int:
        data = self.read(mm.STACK_BASE, mm.ENTRY_RSP - mm.STACK_BASE)
        for i, byte in enumerate(data):
            if byte != _PAINT:
                return mm.STACK_BASE + i
        return mm.ENTRY_RSP

    def count_each_instruction(self, args: Sequence[int] = (), entry: int = 0) -> int:
        """For tests: the same run counted with a UC_HOOK_CODE (one callback per instruction)."""
        counted = [0]
        lo, hi = self.image.base, self.image.base + len(self.image.code)

        def on_code(uc: Any, address: int, size: int, _user: object) -> None:
            if lo <= address < hi or address == mm.RETURN_THUNK:
                counted[0] += 1

        handle = self.uc.hook_add(UC_HOOK_CODE, on_code)
        self.uc.ctl_flush_tb()  # hooks apply only to blocks translated after they are added
        try:
            self.run(args, entry)
        finally:
            self.uc.hook_del(handle)
            self.uc.ctl_flush_tb()
        return counted[0]


__all__ = ["UC_PROT_ALL", "Fault", "Machine", "MachineRun", "Service", "ServiceCall"]
