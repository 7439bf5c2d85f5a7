# Symbols and branch targets as llvm-objdump chooses them, and bytes that are no instruction.
	.text
	goto +1                         # no symbol at 0: the section's name stands there
	goto -2
zz:                                     # two labels at one address: the greater name is printed
aa:
	r0 = 0
	.type obj,@object                # an STT_OBJECT in code is dumped as data
obj:
	.byte 0x41, 0x42, 0x43, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x7e
	.type fn,@function
fn:
	.globl g                         # a global and a local function at one address
	.type g,@function
g:
	if r1 > r2 goto +0x7fff          # far past the end of the section: <g+0x...>
	.byte 0x06, 0, 0, 0, 0x45, 0x23, 0x01, 0    # gotol +0x12345 (llvm-mc-19 takes 16 bits only)
	.byte 0x06, 0, 0, 0, 0, 0, 0, 0x80        # gotol -0x80000000: before the start, the target wraps
	may_goto +1
	if w1 == 0x5 goto -0x8000
	r0 = r11                        # r11 prints (LLVM has it), the verifier refuses it
	r1 = 0x123456789abcdef0 ll
	.byte 0xff, 0, 0, 0, 0, 0, 0, 0  # no instruction
	.zero 12                         # zero runs are skipped in steps of 4
	exit
	.zero 9

	.section far,"ax"
	r0 = 1
lab:
	goto -2
	goto +5
	.byte 0x18, 0x01, 0, 0, 0, 0, 0, 0   # an ld_imm64 cut short by the section's end
