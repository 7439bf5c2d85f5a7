"""The emulated kernel (`framework.kernel`) behind the machine's trap stubs.

The kernel's `AddressSpace` stays the source of truth; the machine's stack is
added to it as a region ("stack#jit"), so services can reach pointers into the
stack (iterator state, map keys). Its regions are mirrored into Unicorn at the same
addresses before the run and after every service call; before a service runs,
what the program wrote to writable regions is copied back. Regions with a load
hook (context fields the kernel converts) or an access watch (memory of a
released resource) get a Unicorn memory hook limited to their own range, so
only accesses to them cost a callback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from unicorn import UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE, UC_PROT_READ, UC_PROT_WRITE

from framework.fixup.ldabs import SKB_LOAD_HELPERS
from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.jit.items import JitError
from framework.kernel.api import Kernel, KernelFault, NotEmulated
from framework.kernel.memory import Region
from framework.machine import memory as mm
from framework.machine.machine import Machine, ServiceCall

__all__ = ["KernelBridge", "KernelResolver"]


class KernelResolver:
    """The JIT's resolver for a program run against a `Kernel`: calls go to trap
    stubs, ld_imm64 pseudo values come from `Kernel.ld_imm64`."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._stubs = mm.StubResolver()

    def __call__(self, pc: int, insn: Insn) -> int:
        if insn.kind.value == "ld_imm64" and insn.src not in (0, op.PSEUDO_FUNC):
            try:
                return self.kernel.ld_imm64(insn, pc)
            except KernelFault as exc:
                raise JitError(pc, str(exc)) from None
        return self._stubs(pc, insn)


EFAULT = 14


class _Engine:
    """The `framework.kernel.api.Engine` a service sees during a JIT run."""

    def __init__(self, pc: int, bridge: KernelBridge) -> None:
        self._pc = pc
        self._bridge = bridge

    @property
    def pc(self) -> int:
        return self._pc

    def invoke(self, func_addr: int, args: Sequence[int]) -> int:
        """Run a BPF callback (bpf_loop): memory goes to Unicorn and back around it."""
        image = self._bridge.machine.image
        if not any(func_addr == image.base + f.entry for f in image.frames):
            raise KernelFault(f"0x{func_addr:x} is not a function of this program")
        self._bridge.sync_in()
        r0 = self._bridge.machine.call_nested(func_addr, args)
        self._bridge.sync_out()
        return r0


class KernelBridge:
    """Connects a `Machine` to a `Kernel`: helpers and kfuncs (by `kfunc_names`
    index) go to the kernel's services; memory is kept in step both ways."""

    def __init__(
        self,
        machine: Machine,
        kernel: Kernel,
        kfunc_names: Sequence[str] = (),
        *,
        pc_of: Callable[[int], int] | None = None,
        args_of: Callable[[int, tuple[int, ...]], tuple[int, ...]] | None = None,
        unwinder_pcs: frozenset[int] = frozenset(),
    ) -> None:
        """`pc_of` maps the JITed program's pc to the one the kernel should record
        (the pc before the fixup stage); `args_of(pc, args)` gives a call's
        arguments back as the emulated service takes them (fixup_kfunc_call's
        size for bpf_obj_new becomes the type id again)."""
        self.machine = machine
        self.kernel = kernel
        self.kfunc_names = tuple(kfunc_names)
        self.pc_of = pc_of
        self.args_of = args_of
        self.unwinder_pcs = unwinder_pcs  # landing pads: what they release, the unwinder releases
        self._pages: set[int] = set()
        self._hooked: set[int] = set()  # id() of regions with a memory hook
        self._mirrored: list[Region] = []
        memory = kernel.memory
        self.stack = memory.map_at(mm.STACK_BASE, "stack#jit", "stack", bytes(mm.STACK_SIZE))
        self._pages.update(range(mm.STACK_BASE, mm.STACK_TOP, mm.PAGE))  # the machine maps its stack itself
        machine.helpers = _ServiceTable(self, "helper")
        machine.kfuncs = _ServiceTable(self, "kfunc")
        machine.releases = lambda call: self.call("release", call)
        machine.memory_out = self.sync_out
        self.sync_in()

    # -- memory -----------------------------------------------------------------
    def sync_in(self) -> None:
        """Kernel -> Unicorn: map new regions, write every region's bytes."""
        uc: Any = self.machine.uc
        for region in self.kernel.memory.regions():
            if region.kind == "stack" and region is not self.stack:
                continue  # another engine's frames
            first = region.base & ~(mm.PAGE - 1)
            for page in range(first, region.end, mm.PAGE):
                if page not in self._pages:
                    uc.mem_map(page, mm.PAGE, UC_PROT_READ | UC_PROT_WRITE)
                    self._pages.add(page)
            if region.data:
                uc.mem_write(region.base, bytes(region.data))
            if id(region) not in self._hooked and (region.load_hook is not None or region.on_access is not None):
                self._hook(region)
            if region not in self._mirrored:
                self._mirrored.append(region)

    def sync_out(self) -> None:
        """Unicorn -> kernel: what the program wrote to writable regions."""
        uc: Any = self.machine.uc
        for region in self._mirrored:
            if region.writable and region.data:
                region.data[:] = uc.mem_read(region.base, len(region.data))

    def _hook(self, region: Region) -> None:
        self._hooked.add(id(region))
        uc: Any = self.machine.uc

        def watch(off: int, size: int, write: bool) -> bool:
            """The region's access watch; False when it refused the access (the run then stops)."""
            if region.on_access is None:
                return True
            try:
                region.on_access(region, off, size, write)
            except NotEmulated as exc:  # what the emulated kernel cannot give: the run is unsupported
                self.machine.refuse(str(exc), unsupported=True)
                return False
            return True

        def on_read(_uc: Any, _access: int, address: int, size: int, _value: int, _user: object) -> None:
            off = address - region.base
            if not watch(off, size, False):
                return
            if region.load_hook is not None:
                value = region.load_hook(off, size)
                if value is not None:  # the value the load yields, written just before it reads
                    uc.mem_write(address, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

        def on_write(_uc: Any, _access: int, address: int, size: int, _value: int, _user: object) -> None:
            watch(address - region.base, size, True)

        last = max(region.end - 1, region.base)
        uc.hook_add(UC_HOOK_MEM_READ, on_read, begin=region.base, end=last)
        uc.hook_add(UC_HOOK_MEM_WRITE, on_write, begin=region.base, end=last)

    # -- services ---------------------------------------------------------------
    def call(self, kind: str, call: ServiceCall) -> int:
        pc = self.machine.caller_pc()
        args: tuple[int, ...] = call.args
        if pc is not None and pc in self.unwinder_pcs:
            self.kernel.unwinding = True
            try:
                return self._call(kind, call, pc, args)
            finally:
                self.kernel.unwinding = False
        return self._call(kind, call, pc, args)

    def _call(self, kind: str, call: ServiceCall, pc: int | None, args: tuple[int, ...]) -> int:
        if pc is not None and self.args_of is not None:
            args = self.args_of(pc, args)
        if pc is not None and self.pc_of is not None:
            pc = self.pc_of(pc)
        engine = _Engine(pc if pc is not None else -1, self)
        self.sync_out()
        if kind == "helper" and call.number in SKB_LOAD_HELPERS:
            return self._skb_load(SKB_LOAD_HELPERS[call.number], args[1])
        if kind == "release":  # from a runtime: the frame walk's release of one resource
            value = self.kernel.unwind_release(call.number, args[0], engine)
        elif kind == "kfunc":
            if call.number >= len(self.kfunc_names):
                raise KernelFault(f"kfunc #{call.number} has no name")
            value = self.kernel.kfunc(self.kfunc_names[call.number], args, engine)
        else:
            value = self.kernel.helper(call.number, args, engine)
        self.sync_in()
        return value

    def _skb_load(self, size: int, offset: int) -> int:
        """bpf_skb_load_helper_{8,16,32}_no_cache (net/core/filter.c): big-endian, -EFAULT outside."""
        off = offset & 0xFFFFFFFF
        off = off - (1 << 32) if off & 0x80000000 else off
        at = self.kernel.packet_load(off, size) if self.kernel.packet() is not None else None
        if at is None:
            return -EFAULT & 0xFFFFFFFFFFFFFFFF
        return int.from_bytes(self.kernel.memory.read(at, size), "big")


class _ServiceTable(dict[int, Any]):
    """Every helper id / kfunc index resolves to the bridge."""

    def __init__(self, bridge: KernelBridge, kind: str) -> None:
        super().__init__()
        self.bridge = bridge
        self.kind = kind

    def get(self, key: int, default: Any = None) -> Any:
        return lambda call: self.bridge.call(self.kind, call)
