/* Multiboot entry of the migsim measurement guest: header, own GDT, stack, interrupt stubs.
 * Loaded by QEMU's -kernel multiboot loader in 32-bit protected mode (no paging); calls kmain. */
    .set MB_MAGIC, 0x1BADB002
    .set MB_FLAGS, 0x00000003          /* page-aligned modules, memory info */

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

    .section .text
    .global _start
_start:
    cli
    mov $stack_top, %esp
    lgdt gdt_desc
    ljmp $0x08, $1f
1:  mov $0x10, %cx
    mov %cx, %ds
    mov %cx, %es
    mov %cx, %fs
    mov %cx, %gs
    mov %cx, %ss
    push %ebx                          /* multiboot information */
    push %eax                          /* multiboot magic */
    call kmain
2:  cli
    hlt
    jmp 2b

    .global irq0_stub
irq0_stub:                             /* PIT tick: wake the main loop, acknowledge the PIC */
    push %eax
    incl ticks
    movb $0x20, %al
    outb %al, $0x20
    pop %eax
    iret

    .global ignore_stub
ignore_stub:
    iret

    .section .data
    .align 8
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF           /* 0x08: flat 4 GiB code */
    .quad 0x00CF92000000FFFF           /* 0x10: flat 4 GiB data */
gdt_desc:
    .word 23
    .long gdt

    .section .bss
    .align 16
stack:
    .space 16384
stack_top:
    .section .note.GNU-stack, "", @progbits
