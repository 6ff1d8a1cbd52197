/* SPDX-License-Identifier: MIT */
/*
 * The kexec zboot envelope's layout, shared by the writer and the reader.
 *
 * Derived from PATCHv7 13/13 "tools/kexec: Introduce a tool to build zboot
 * envelop" (Pingfan Liu, 2026-03-21, kexec mailing list, message 035458),
 * file tools/kexec/build_zboot_envelop.c; line numbers are that file's:
 *
 *   ELF header, 64 bytes at 0 (main(), ~l. 263-281: memset to zero, then):
 *     e_ident  7f 'E' 'L' 'F', ELFCLASS64, ELFDATA2LSB, EV_CURRENT,
 *              ELFOSABI_NONE (0); EI_ABIVERSION and the padding stay 0
 *     e_type ET_EXEC (2); e_machine EM_AARCH64 (183), hard-coded (l. 275:
 *              the tool takes no machine; we write the ELF counterpart of
 *              the kernel's PE machine, which is EM_AARCH64 for arm64 zboot,
 *              so arm64 envelopes match it byte for byte);
 *     e_version EV_CURRENT (1); e_entry 0; e_phoff 0; e_shoff 64;
 *     e_flags 0; e_ehsize 64; e_phentsize 0; e_phnum 0; e_shentsize 64;
 *     e_shnum 5; e_shstrndx 4.
 *   Section headers, 5 x 64 bytes at 64 (enum of indices, ~l. 30-37):
 *     [0] all zero
 *     [1] .kernel, [2] .initrd, [3] .cmdline (fill_shdr(), ~l. 180-190):
 *         sh_type SHT_PROGBITS, sh_flags SHF_ALLOC, sh_addr 0,
 *         sh_link 0, sh_info 0, sh_addralign 1, sh_entsize 0;
 *         sh_size the exact size, padding never counted (~l. 288-298)
 *     [4] .shstrtab (~l. 300-306): SHT_STRTAB, flags 0, sh_addralign 1,
 *         sh_size 36.
 *   Data, in this order (the "File layout" comment, ~l. 201-214, and the
 *   offsets computed at ~l. 244-261):
 *     .kernel  at 384, the image unchanged; no padding after it
 *              (pad_after_kernel = 0), so .initrd starts at 384 + size,
 *              8-aligned or not
 *     .initrd  then zero bytes up to the next multiple of 8 of the FILE
 *              OFFSET (align8(off_initrd + size)), not of the size
 *     .cmdline strlen + 1 bytes (the NUL is part of sh_size), then zero
 *              bytes up to a file offset multiple of 8
 *     .shstrtab "\0.kernel\0.initrd\0.cmdline\0.shstrtab\0" (names at 1, 9,
 *              17, 26; ~l. 39-60), 36 bytes, the end of the file (no
 *              padding after it).
 *
 * The reference mmap()s its inputs (~l. 106), which fails for an empty
 * file: it cannot write an empty .kernel or .initrd. We write an empty
 * .initrd (sh_size 0, at the offset above) when no initrd is given; the
 * series' zboot_parser_bpf.c skips sections of size 0, so such a kernel is
 * booted without one. Its command line is optional (Makefile: CMDLINE
 * defaults to empty), giving a 1-byte .cmdline "\0".
 *
 * How zboot_parser_bpf.c reads it, and why the reader below checks what it
 * does: it takes e_shoff, e_shnum and e_shstrndx as they are, scans section
 * headers 1..7 only, compares 16 bytes at shstrtab + sh_name (a name with
 * fewer than 16 bytes of string table after it is skipped: ".shstrtab" at
 * 26 is, the three payload names are not), skips sections of size 0 or
 * past the buffer, and hands .cmdline's sh_size bytes (NUL included) to the
 * kernel. It requires "zimg" at offset 4 of .kernel.
 */
#ifndef BP_KEXEC_INTERNAL_H
#define BP_KEXEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <bootpack/kexec.h>

#include "util/util.h"

/* ELF64 (System V gABI) sizes, offsets and values used here. */
#define ELF_EHDR_SIZE 64
#define ELF_SHDR_SIZE 64
#define ELF_EI_CLASS 4
#define ELF_EI_DATA 5
#define ELF_EI_VERSION 6
#define ELF_CLASS64 2
#define ELF_DATA2LSB 1
#define ELF_EV_CURRENT 1
#define ELF_ET_EXEC 2
#define ELF_E_TYPE 16
#define ELF_E_MACHINE 18
#define ELF_E_VERSION 20
#define ELF_E_SHOFF 40
#define ELF_E_EHSIZE 52
#define ELF_E_SHENTSIZE 58
#define ELF_E_SHNUM 60
#define ELF_E_SHSTRNDX 62
/* Section header fields. */
#define ELF_SH_NAME 0
#define ELF_SH_TYPE 4
#define ELF_SH_FLAGS 8
#define ELF_SH_OFFSET 24
#define ELF_SH_SIZE 32
#define ELF_SH_ADDRALIGN 48
#define ELF_SHT_NULL 0
#define ELF_SHT_PROGBITS 1
#define ELF_SHT_STRTAB 3
#define ELF_SHT_NOBITS 8
#define ELF_SHF_ALLOC 2
#define ELF_SHN_XINDEX 0xffff
/* e_machine values. */
#define ELF_EM_X86_64 62
#define ELF_EM_AARCH64 183
#define ELF_EM_RISCV 243
#define ELF_EM_LOONGARCH 258

/* The reference's five sections, in its order. */
enum { ENV_NULL, ENV_KERNEL, ENV_INITRD, ENV_CMDLINE, ENV_SHSTRTAB, ENV_NUM };

#define ENV_HEADERS_SIZE (ELF_EHDR_SIZE + ENV_NUM * ELF_SHDR_SIZE)
/* The string table's bytes, its final NUL included (sizeof). */
#define ENV_STRTAB_BYTES "\0" BP_KEXEC_KERNEL "\0" BP_KEXEC_INITRD "\0" BP_KEXEC_CMDLINE "\0.shstrtab"
#define ENV_STRTAB_SIZE sizeof(ENV_STRTAB_BYTES)

/* Where everything goes for given payload sizes. */
struct bpi_kexec_layout {
	uint16_t machine;
	uint64_t off[ENV_NUM], size[ENV_NUM];
	uint64_t pad[ENV_NUM];      /* zero bytes written after each section's data */
	uint64_t total;             /* the file size */
};

/*
 * Fill @l for these sizes (@cmdline_size counts the NUL). BP_ERR_TOOBIG
 * when the file would not fit in 64 bits.
 */
int bpi_kexec_layout(struct bpi_kexec_layout *l, uint16_t machine, uint64_t kernel_size,
		     uint64_t initrd_size, uint64_t cmdline_size, struct bp_diag *d);
/* The ELF header and the section header table of @l: ENV_HEADERS_SIZE bytes. */
void bpi_kexec_headers(const struct bpi_kexec_layout *l, uint8_t out[ENV_HEADERS_SIZE]);
/* The ELF machine of a PE machine, 0 when there is none here. */
uint16_t bpi_kexec_elf_machine(uint16_t pe_machine);

/*
 * bp_pe_open()'s reason in @d, copied to @buf (it is about to be
 * overwritten) without its leading "not a PE image: ", which the caller says.
 */
const char *bpi_kexec_pe_reason(const struct bp_diag *d, char *buf, size_t n);

struct bp_pe;

struct bp_kexec_envelope {
	char *name;
	const uint8_t *data;
	size_t len;
	bool mapped;                /* @data is a file mapping, else malloc()ed */
	struct bp_kexec_info info;
	struct bp_pe *kernel;
};

#endif
