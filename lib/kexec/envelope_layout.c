// SPDX-License-Identifier: MIT
/*
 * Where the envelope's parts go and its header bytes: one routine for the
 * writer and for the reader's "is this the reference layout" check, so the
 * two cannot drift. The layout and its source are in kexec_internal.h.
 */
#include <stdio.h>
#include <string.h>

#include "kexec_internal.h"

static const struct {
	uint16_t pe, elf;
	const char *name;
} machines[] = {
	{ 0xaa64, ELF_EM_AARCH64, "AArch64" },
	{ 0x5064, ELF_EM_RISCV, "RISC-V" },
	{ 0x6264, ELF_EM_LOONGARCH, "LoongArch" },
	{ 0x8664, ELF_EM_X86_64, "x86-64" },
};

#define N_MACHINES (sizeof(machines) / sizeof(machines[0]))

uint16_t bpi_kexec_elf_machine(uint16_t pe_machine)
{
	for (size_t i = 0; i < N_MACHINES; i++)
		if (machines[i].pe == pe_machine)
			return machines[i].elf;
	return 0;
}

const char *bp_kexec_machine_name(uint16_t elf_machine)
{
	for (size_t i = 0; i < N_MACHINES; i++)
		if (machines[i].elf == elf_machine)
			return machines[i].name;
	return NULL;
}

/* Zero bytes that bring file offset @end to a multiple of 8. */
static uint64_t pad8(uint64_t end)
{
	return (8 - (end & 7)) & 7;
}

int bpi_kexec_layout(struct bpi_kexec_layout *l, uint16_t machine, uint64_t kernel_size,
		     uint64_t initrd_size, uint64_t cmdline_size, struct bp_diag *d)
{
	static const uint64_t limit = UINT64_MAX / 2;

	memset(l, 0, sizeof(*l));
	/* Each size is below 2^62 and there are four of them: no sum below wraps. */
	if (kernel_size > limit / 4 || initrd_size > limit / 4 || cmdline_size > limit / 4)
		return bp_diag_set(d, BP_ERR_TOOBIG, NULL, "envelope would exceed 2^63 bytes");
	l->machine = machine;
	l->size[ENV_KERNEL] = kernel_size;
	l->size[ENV_INITRD] = initrd_size;
	l->size[ENV_CMDLINE] = cmdline_size;
	l->size[ENV_SHSTRTAB] = ENV_STRTAB_SIZE;
	l->off[ENV_KERNEL] = ENV_HEADERS_SIZE;
	/* The reference never pads after .kernel: no byte may follow the PE image inside it. */
	l->off[ENV_INITRD] = l->off[ENV_KERNEL] + kernel_size;
	l->pad[ENV_INITRD] = pad8(l->off[ENV_INITRD] + initrd_size);
	l->off[ENV_CMDLINE] = l->off[ENV_INITRD] + initrd_size + l->pad[ENV_INITRD];
	l->pad[ENV_CMDLINE] = pad8(l->off[ENV_CMDLINE] + cmdline_size);
	l->off[ENV_SHSTRTAB] = l->off[ENV_CMDLINE] + cmdline_size + l->pad[ENV_CMDLINE];
	l->total = l->off[ENV_SHSTRTAB] + ENV_STRTAB_SIZE;
	return 0;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	bpi_put_le32(p, (uint32_t)v);
	bpi_put_le32(p + 4, (uint32_t)(v >> 32));
}

static void put_shdr(uint8_t *sh, uint32_t name, uint32_t type, uint64_t flags, uint64_t off,
		     uint64_t size)
{
	bpi_put_le32(sh + ELF_SH_NAME, name);
	bpi_put_le32(sh + ELF_SH_TYPE, type);
	put_le64(sh + ELF_SH_FLAGS, flags);
	put_le64(sh + ELF_SH_OFFSET, off);
	put_le64(sh + ELF_SH_SIZE, size);
	put_le64(sh + ELF_SH_ADDRALIGN, 1);
}

void bpi_kexec_headers(const struct bpi_kexec_layout *l, uint8_t out[ENV_HEADERS_SIZE])
{
	/* Offsets of the names in ENV_STRTAB_BYTES. */
	static const uint32_t names[ENV_NUM] = { 0, 1, 9, 17, 26 };
	uint8_t *sh = out + ELF_EHDR_SIZE;

	memset(out, 0, ENV_HEADERS_SIZE);
	memcpy(out, "\x7f" "ELF", 4);
	out[ELF_EI_CLASS] = ELF_CLASS64;
	out[ELF_EI_DATA] = ELF_DATA2LSB;
	out[ELF_EI_VERSION] = ELF_EV_CURRENT;
	bpi_put_le16(out + ELF_E_TYPE, ELF_ET_EXEC);
	bpi_put_le16(out + ELF_E_MACHINE, l->machine);
	bpi_put_le32(out + ELF_E_VERSION, ELF_EV_CURRENT);
	put_le64(out + ELF_E_SHOFF, ELF_EHDR_SIZE);
	bpi_put_le16(out + ELF_E_EHSIZE, ELF_EHDR_SIZE);
	bpi_put_le16(out + ELF_E_SHENTSIZE, ELF_SHDR_SIZE);
	bpi_put_le16(out + ELF_E_SHNUM, ENV_NUM);
	bpi_put_le16(out + ELF_E_SHSTRNDX, ENV_SHSTRTAB);
	for (int i = ENV_KERNEL; i <= ENV_CMDLINE; i++)
		put_shdr(sh + i * ELF_SHDR_SIZE, names[i], ELF_SHT_PROGBITS, ELF_SHF_ALLOC,
			 l->off[i], l->size[i]);
	put_shdr(sh + ENV_SHSTRTAB * ELF_SHDR_SIZE, names[ENV_SHSTRTAB], ELF_SHT_STRTAB, 0,
		 l->off[ENV_SHSTRTAB], l->size[ENV_SHSTRTAB]);
}

const char *bpi_kexec_pe_reason(const struct bp_diag *d, char *buf, size_t n)
{
	static const char lead[] = "not a PE image: ";
	const char *m = d ? d->msg : "unreadable";

	if (!strncmp(m, lead, sizeof(lead) - 1))
		m += sizeof(lead) - 1;
	snprintf(buf, n, "%s", m);
	return buf;
}
