/*
 * seoib lab guest: the 64 KiB -bios image's entry points.
 *
 * The CPU resets at 0xFFFFFFF0 in 16-bit real mode with CS based at
 * 0xFFFF0000 (the top 64 KiB of 4 GiB, where QEMU maps a 64 KiB -bios). We
 * load a flat GDT, enter 32-bit protected mode and call guest_main (guest.c).
 * The GDT lives in ROM, so its descriptors carry the accessed bit already: the
 * CPU would otherwise try to write it on the first segment load.
 *
 * Interrupt handlers return with popfl/ret, not IRET: kvm_pvm cannot emulate
 * IRET in 32-bit protected mode ("KVM internal error. Suberror: 1"). They also
 * return with IF clear, so guest.c decides when the next interrupt may come.
 */
    .set CODE_SEL, 0x08
    .set DATA_SEL, 0x10
    .set STACK_TOP, 0x90000

    .section .text.start, "ax"
    .code16
    .globl start16
start16:
    cli
    cld
    lgdtl %cs:(gdt_desc - start16)   /* start16 is the first byte of the ROM */
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $CODE_SEL, $start32

    .code32
start32:
    movw $DATA_SEL, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    movl $STACK_TOP, %esp
    call guest_main
1:  cli
    hlt
    jmp 1b

/* Return from an interrupt without IRET: [EIP][CS][EFLAGS] -> popfl; ret. */
.macro RETURN_WITHOUT_IRET
    pushl %eax
    movl 12(%esp), %eax          /* EFLAGS */
    andl $~0x200, %eax           /* back with IF clear */
    movl %eax, 8(%esp)           /* over CS */
    movl 4(%esp), %eax           /* EIP */
    movl %eax, 12(%esp)          /* over EFLAGS */
    popl %eax
    addl $4, %esp
    popfl
    ret
.endm

    .globl irq_stub
irq_stub:
    pushal
    call guest_irq
    popal
    RETURN_WITHOUT_IRET

    .globl spurious_stub
spurious_stub:
    pushal
    call guest_spurious
    popal
    RETURN_WITHOUT_IRET

/* Any other vector: report it and stop (guest.c exits through isa-debug-exit). */
.macro FAULT n
    .globl fault_stub_\n
fault_stub_\n:
    pushl $\n
    call guest_fault
.endm
    FAULT 0
    FAULT 6
    FAULT 8
    FAULT 13
    FAULT 14
    FAULT 255

    .align 8
gdt:
    .quad 0
    .quad 0x00CF9B000000FFFF     /* 0x08: code, flat 4 GiB, 32-bit, accessed */
    .quad 0x00CF93000000FFFF     /* 0x10: data, flat 4 GiB, accessed */
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt

    .section .reset, "ax"
    .code16
    .globl reset_vector
reset_vector:
    jmp start16
    .align 16, 0xF4

    .section .note.GNU-stack, "", @progbits
