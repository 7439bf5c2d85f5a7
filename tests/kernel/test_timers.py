"""bpf_timer in the emulated kernel (framework.kernel.timers): the accepted programs of
tests/verify/cases/timers.toml chain the four helpers and pack their return codes into the
program's; each runs alike on both engines, and returns what the live kernel's BPF_PROG_TEST_RUN
returns (tc and XDP on a 64-byte packet)."""

from __future__ import annotations

import pytest
from verify import cases_loader
from verify.cases_loader import VerifierCase, load_cases

from framework.errors import InputError
from framework.kernel.objects import RunInput
from framework.load import load_path
from framework.oracle.check import available
from framework.run.result import run_program

CASES = [c for c in load_cases("timers") if c.verdict == "accepted"]
EINVAL, EBUSY = -22 & 0xFF, -16 & 0xFF
EXPECTED = {  # the test run's u32 retval
    # init 0, set_callback 0, start 0, cancel of the armed timer 1, cancel again 0
    "init_callback_start_cancel": 1 << 24,
    "init_twice_is_busy": EBUSY << 8,
    "before_init_is_einval": EINVAL | EINVAL << 8 | EINVAL << 16,
    "start_without_callback": EINVAL << 8,  # init 0, start -EINVAL, cancel of an unarmed timer 0
    # two bad clocks, init 0, set_callback 0, a bad start flag (-EINVAL & 0xf), start 0, cancel 1
    "bad_clock_and_flags": EINVAL | EINVAL << 8 | (EINVAL & 0xF) << 24 | 1 << 29,
    # the update frees the armed timer: cancel -EINVAL, init again 0
    "update_frees_the_timer": EINVAL << 16,
    "delete_frees_the_timer": EINVAL << 16,  # the element made anew has no timer
    "callback_rearms_its_timer": 2,  # XDP_PASS: never started, cancel 0
    "callback_sets_itself_again": 0,
    "callback_not_run_within_the_test_run": 0,  # start 0, the callback not run: n 0
    "set_callback_in_a_bpf_loop_callback": 0,
    "timer_in_a_nested_struct": -22 & 0xFFFFFFFF,  # bpf_timer_cancel before init
}
PACKET = RunInput("pkt", bytes(64))


def test_every_accepted_case_has_its_return() -> None:
    assert sorted(EXPECTED) == sorted(c.name for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_timer_helpers_run_alike_on_both_engines(case: VerifierCase) -> None:
    program = case.program()
    runs = [run_program(program, PACKET, engine=e) for e in ("interp", "jit")]
    assert [(r.fault, r.r0 & 0xFFFFFFFF) for r in runs] == [(None, EXPECTED[case.name])] * 2


@pytest.mark.kernel
def test_the_timer_helpers_return_what_the_live_kernels_test_run_returns() -> None:
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    from framework.oracle.record import record

    differ = {}
    for case in CASES:
        rec = record(case.program(), [PACKET], batches=1, repeat=1)
        assert rec.verdict == "accepted" and len(rec.runs) == 1, (case.name, rec.message)
        if rec.runs[0].retval != EXPECTED[case.name]:
            differ[case.name] = (hex(rec.runs[0].retval), hex(EXPECTED[case.name]))
    assert not differ, differ


PERCPU_TIMER = """
struct inner { struct bpf_timer t; };
struct elem { long n; %s; };
struct {
	__uint(type, BPF_MAP_TYPE_%s);
	__type(key, int);
	__type(value, struct elem);
	__uint(max_entries, 1);
} timers SEC(".maps");

SEC("tc") int percpu_timer(struct __sk_buff *ctx)
{
	int key = 0;
	struct elem *v = bpf_map_lookup_elem(&timers, &key);

	return v ? 0 : 1;
}
"""


PER_CPU = ["PERCPU_ARRAY", "PERCPU_HASH", "LRU_PERCPU_HASH"]
ONE_TIMER = "struct bpf_timer t"
NESTED = "struct inner in"  # btf_find_nested_struct finds it
TWO = "struct bpf_timer t, u"  # btf_parse_fields fails: the map has no record, nothing is checked


def _per_cpu_object(map_type: str, value: str = ONE_TIMER) -> str:
    try:
        return str(cases_loader._compile(PERCPU_TIMER % (value, map_type)))
    except cases_loader.NoCompiler as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("value", [ONE_TIMER, NESTED])
@pytest.mark.parametrize("map_type", PER_CPU)
def test_a_per_cpu_map_cannot_hold_a_timer(map_type: str, value: str) -> None:
    # kernel: map_check_btf (only array, hash and lru_hash maps may hold a bpf_timer): the map is
    # not created, so the object is bad input before any program is verified
    with pytest.raises(InputError, match=r"map 'timers': a struct bpf_timer in a .* map's value: EOPNOTSUPP"):
        load_path(_per_cpu_object(map_type, value))


def test_a_value_with_two_timers_has_no_record_to_check() -> None:
    assert load_path(_per_cpu_object("PERCPU_ARRAY", TWO))


@pytest.mark.kernel
@pytest.mark.parametrize("value", [ONE_TIMER, NESTED, TWO])
@pytest.mark.parametrize("map_type", PER_CPU)
def test_the_live_kernel_creates_a_per_cpu_map_only_without_one_timer(map_type: str, value: str) -> None:
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    from framework.load.elf import load_object
    from framework.oracle.record import record

    (program,) = load_object(_per_cpu_object(map_type, value))
    if value == TWO:
        assert record(program, log_level=1).verdict == "accepted"
        return
    with pytest.raises(InputError, match=r"BPF_MAP_CREATE.*Operation not supported"):
        record(program, log_level=1)


ARRAY_ONLY = [c for c in CASES if all(m.map_type == "array" for m in c.program().maps)]


def test_set_callback_gets_the_program_aux_in_r3() -> None:
    from framework.fixup import stock_fixup
    from framework.fixup.timer import PROG_AUX

    (case,) = [c for c in CASES if c.name == "callback_sets_itself_again"]
    program = stock_fixup(case.program()).program
    insns = list(program.insns())
    calls = [n for n, (_, i) in enumerate(insns) if i.kind.name == "CALL" and i.src == 0 and i.imm == 170]
    assert len(calls) == 2  # the program's and its callback's
    for n in calls:  # do_misc_fixups: BPF_LD_IMM64(BPF_REG_3, prog->aux) right before
        ld = insns[n - 1][1]
        assert ld.kind.name == "LD_IMM64" and ld.dst == 3 and ld.imm64 == PROG_AUX


@pytest.mark.kernel
def test_the_fixed_program_is_as_long_as_the_kernels_xlated_one() -> None:
    # hash and LRU maps' lookups, which the kernel inlines (htab_map_gen_lookup), are not modelled
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    from framework.fixup import stock_fixup
    from framework.oracle.record import record

    assert len(ARRAY_ONLY) >= 5
    for case in ARRAY_ONLY:
        program = case.program()
        rec = record(program, log_level=1)
        assert rec.bytes_xlated == 8 * len(stock_fixup(program).program.slots), case.name
