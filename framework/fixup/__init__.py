"""The fixup stage: the kernel's post-verification rewrites the x86 JIT relies on.

`fixup(program) -> Fixed` (the rewritten `Program` and old pc -> new pc), after
kernel/bpf/verifier.c (Linux 6.18): opt_remove_dead_code, opt_remove_nops,
convert_ctx_accesses, do_misc_fixups (fixup_kfunc_call, division guards, the
hidden exception callback), opt_subreg_zext_lo32_rnd_hi32. `fixup_slots` applies
only the arithmetic rewrites to a bare instruction list (the ISA suite).
"""

from framework.fixup.ctx import SKB_LAYOUT, CtxError, SkbLayout
from framework.fixup.kfunc import META_BASE, KfuncFix
from framework.fixup.planned import fixup_planned, stock_fixup
from framework.fixup.stage import HIDDEN_CB, Fixed, FixedSlots, fixup, fixup_slots
from framework.isa.patch import Patched, patch

__all__ = [
    "HIDDEN_CB",
    "META_BASE",
    "SKB_LAYOUT",
    "CtxError",
    "Fixed",
    "FixedSlots",
    "KfuncFix",
    "Patched",
    "SkbLayout",
    "fixup",
    "fixup_planned",
    "fixup_slots",
    "patch",
    "stock_fixup",
]
