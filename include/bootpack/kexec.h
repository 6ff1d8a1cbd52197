/* SPDX-License-Identifier: MIT */
/*
 * The kexec zboot envelope: one ELF64 file holding a kernel (a Linux EFI
 * zboot image, unchanged, so its Authenticode signature still verifies), an
 * initrd and a command line, for the BPF-driven kexec_file_load of the
 * "kexec: Introduce BPF-based image parsers" series (v7, 2026-03; its
 * tools/kexec/build_zboot_envelop.c writes it, zboot_parser_bpf.c reads it).
 *
 * bp_kexec_envelope_write() writes it byte for byte as that tool does;
 * bp_kexec_envelope_open() reads one back from untrusted bytes.
 *
 * Structs follow the growth rules at the top of <bootpack/fit.h>: the one
 * passed in starts with a size the caller sets (BP_KEXEC_ENVELOPE_INIT),
 * the one returned with the size the library filled; the embedded struct
 * bp_kexec_part is frozen.
 */
#ifndef BOOTPACK_KEXEC_H
#define BOOTPACK_KEXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bootpack/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The section names, as the series' zboot_envelop.h spells them. */
#define BP_KEXEC_KERNEL ".kernel"
#define BP_KEXEC_INITRD ".initrd"
#define BP_KEXEC_CMDLINE ".cmdline"

/* What to put in an envelope. */
struct bp_kexec_envelope_opts {
	size_t size;                /* sizeof(struct bp_kexec_envelope_opts): BP_KEXEC_ENVELOPE_INIT */
	const char *kernel_path;    /* a PE/EFI image (zboot expected); required */
	const char *initrd_path;    /* a regular file; NULL: an empty .initrd */
	const char *cmdline;        /* text without NUL bytes; NULL: "" (.cmdline is then "\0") */
	size_t cmdline_len;
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only (see <bootpack/fit.h>) */
#endif
};

#define BP_KEXEC_ENVELOPE_INIT { .size = sizeof(struct bp_kexec_envelope_opts) }

/*
 * Write the envelope of @o to @out_path atomically. The kernel and initrd
 * are streamed, never held in memory whole. ELF e_machine follows the
 * kernel's PE machine (arm64, riscv64, loongarch64, x86_64).
 * Returns 0 or BP_ERR_INVALID (no kernel, a cmdline with a NUL byte, a bad
 * @o->size), BP_ERR_FORMAT (the kernel is not a PE image or has errors),
 * BP_ERR_UNSUPPORTED (a PE machine with no ELF counterpart here, an initrd
 * that is not a regular file), BP_ERR_TOOBIG or BP_ERR_IO, with the reason
 * in @d.
 */
int bp_kexec_envelope_write(const struct bp_kexec_envelope_opts *o, const char *out_path,
			    struct bp_diag *d);

/* Where one payload section is. Frozen. */
struct bp_kexec_part {
	bool present;
	uint16_t index;             /* section header index */
	uint64_t offset, length;    /* sh_offset, sh_size */
};

struct bp_kexec_info {
	size_t size;                /* set by the library */
	uint64_t file_size;
	uint16_t machine;           /* e_machine */
	uint16_t n_sections;        /* e_shnum, the NULL section included */
	struct bp_kexec_part kernel, initrd, cmdline;
	/* The kernel, a PE image. */
	uint16_t kernel_pe_machine;
	bool kernel_zboot;          /* "MZ" + "zimg": the form the BPF parser decompresses */
	char kernel_compression[33]; /* the zboot payload's, "" when not zboot */
	bool kernel_signed;         /* has a certificate table (Authenticode) */
	/* e_machine is not the ELF counterpart of the kernel's PE machine. */
	bool machine_mismatch;
	/*
	 * Laid out as the writer does (bp_kexec_envelope_write() would give
	 * these bytes for these parts). When false, the series' BPF parser may
	 * still read it, but it is not the reference tool's output.
	 */
	bool canonical;
	/*
	 * The series' zboot_parser_bpf.c (v7) finds every non-empty part: each
	 * among section headers 1 to 7, with 16 bytes of string table from its
	 * name on (it compares 16 bytes), and a zboot .kernel. When false it
	 * boots without the parts it misses, or refuses the kernel.
	 */
	bool bpf_readable;
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

struct bp_kexec_envelope;

/* "AArch64", "RISC-V", "LoongArch", "x86-64" for an ELF e_machine; NULL when unknown. */
const char *bp_kexec_machine_name(uint16_t elf_machine);

/* Largest envelope bp_kexec_envelope_open() reads. */
#define BP_KEXEC_READ_MAX (1ULL << 32)
/* More section headers than this is refused (the reference writes 5; the BPF parser scans 8). */
#define BP_KEXEC_MAX_SECTIONS 64

/*
 * Read the envelope at @path (mapped, not copied). Every offset and size is
 * checked before use: BP_ERR_FORMAT for a file that is not an ELF64
 * little-endian ET_EXEC, a wrong e_shentsize, no or too many sections, a
 * string table without its final NUL or a name outside it, two sections of
 * one name, sections overlapping each other or the headers, no .kernel, a
 * .kernel that is not a PE image, a .cmdline not ending in its NUL;
 * BP_ERR_RANGE for section headers or data past the end of the file.
 */
int bp_kexec_envelope_open(const char *path, struct bp_kexec_envelope **out,
			   struct bp_diag *d);
/* The same for @len bytes at @data (copied); @name is used in messages. */
int bp_kexec_envelope_open_mem(const void *data, size_t len, const char *name,
			       struct bp_kexec_envelope **out, struct bp_diag *d);
void bp_kexec_envelope_close(struct bp_kexec_envelope *e);
const struct bp_kexec_info *bp_kexec_envelope_info(const struct bp_kexec_envelope *e);
/*
 * The bytes of section @name (".kernel", ".initrd", ".cmdline"; sh_size of
 * them, the command line's NUL included), or NULL with *@len 0 when it is
 * absent or empty.
 */
const uint8_t *bp_kexec_envelope_section(const struct bp_kexec_envelope *e, const char *name,
					 size_t *len);

/*
 * Write section @name to @out_path atomically: .kernel and .initrd byte for
 * byte as stored, .cmdline as its text without the terminating NUL (what
 * --cmdline @FILE reads back). BP_ERR_NOTFOUND for an absent section or an
 * unknown name, BP_ERR_IO.
 */
int bp_kexec_envelope_extract(const struct bp_kexec_envelope *e, const char *name,
			      const char *out_path, struct bp_diag *d);

#ifdef __cplusplus
}
#endif

#endif
