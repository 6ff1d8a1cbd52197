// SPDX-License-Identifier: MIT
/* bootpack OBJECT COMMAND [ARGS]: dispatch through the command table. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "argfile.h"
#include "cli.h"

static const struct cli_cmd commands[] = {
	{ "fit", "build", "build a FIT image (drop-in for the kernel's make_fit.py)",
	  cmd_fit_build },
	{ "fit", "list", "show the images and configurations of a FIT", cmd_fit_list },
	{ "fit", "extract", "write one image of a FIT to a file", cmd_fit_extract },
	{ "fit", "verify", "check a FIT's hashes, data bounds, references and signatures",
	  cmd_fit_verify },
	{ "fit", "sign", "sign a FIT's configurations or images for U-Boot verified boot",
	  cmd_fit_sign },
	{ "fit", "key add", "put a public key into U-Boot's control devicetree", cmd_fit_key },
	{ "pe", "info", "show a PE/COFF (EFI) image, its signatures, zboot header and problems",
	  cmd_pe_info },
	{ "pe", "verify", "check a PE/COFF image for what EDK2 would refuse, and its signatures",
	  cmd_pe_verify },
	{ "pe", "sign", "add an Authenticode signature (reproducible) to a PE image",
	  cmd_pe_sign },
	{ "pe", "hash", "print a PE image's Authenticode digest", cmd_pe_hash },
	{ "pe", "add-section", "add a section (e.g. kexec's .bpf) to a PE image",
	  cmd_pe_add_section },
	{ "pe", "replace-section", "replace a section's contents", cmd_pe_replace_section },
	{ "pe", "remove-section", "remove a section", cmd_pe_remove_section },
	{ "uki", "build", "build a Unified Kernel Image (systemd-stub + kernel + initrd...)",
	  cmd_uki_build },
	{ "zboot", "extract", "decompress the kernel Image from a zboot vmlinuz.efi",
	  cmd_zboot_extract },
	{ "kexec", "envelope", "wrap a zboot kernel, initrd and cmdline for BPF kexec_file_load",
	  cmd_kexec_envelope },
	{ "kexec", "info", "check a kexec zboot envelope and show its parts", cmd_kexec_info },
	{ "kexec", "extract", "write one part of a kexec zboot envelope to a file",
	  cmd_kexec_extract },
	{ "uki", "info", "show a Unified Kernel Image's parts (as pe info, refusing non-UKIs)",
	  cmd_uki_info },
	{ "uki", "extract", "write one section of a UKI (.linux, .initrd, .cmdline...) to a file",
	  cmd_uki_extract },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_help(FILE *f)
{
	fputs("Usage: bootpack OBJECT COMMAND [OPTION]... [ARG]...\n"
	      "       bootpack --help | --version\n"
	      "Build, inspect and edit the images bootloaders and kexec load.\n\n"
	      "Commands:\n", f);
	for (size_t i = 0; i < N_COMMANDS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "%s %s", commands[i].object, commands[i].command);
		fprintf(f, "  %-20s%s\n", name, commands[i].summary);
	}
	fputs("\nArguments of the form @FILE are replaced by the arguments in FILE\n"
	      "(quoted as in gcc and ld response files).\n"
	      "Run 'bootpack OBJECT COMMAND --help' for a command's options.\n"
	      "See bootpack(1) for details.\n", f);
}

/* "bootpack OBJECT --help" (or no command): that object's commands, from the table. */
static void print_object_help(FILE *f, const char *object)
{
	fprintf(f, "Usage: bootpack %s COMMAND [OPTION]... [ARG]...\n\nCommands:\n", object);
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].object, object))
			fprintf(f, "  %-20s%s\n", commands[i].command, commands[i].summary);
	fprintf(f, "\nRun 'bootpack %s COMMAND --help' for a command's options.\n", object);
}

static bool is_help(const char *arg)
{
	return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

/* @arg names @command, or its first word ("key" of "key add", which parses the rest). */
static bool names_command(const char *arg, const char *command)
{
	size_t n = strcspn(command, " ");

	return strlen(arg) == n && !strncmp(arg, command, n);
}

static int dispatch_object(int argc, char **argv)
{
	if (argc < 3) {
		cli_error(NULL, "'%s' needs a command", argv[1]);
		fprintf(stderr, "Try 'bootpack %s --help' for the list of its commands.\n", argv[1]);
		return EXIT_USAGE;
	}
	if (is_help(argv[2])) {
		print_object_help(stdout, argv[1]);
		return EXIT_OK;
	}
	for (size_t j = 0; j < N_COMMANDS; j++)
		if (!strcmp(argv[1], commands[j].object) && names_command(argv[2], commands[j].command))
			return commands[j].run(argc - 2, argv + 2);
	cli_error(NULL, "unknown command '%s %s'", argv[1], CLI_ESC(argv[2]));
	fprintf(stderr, "Try 'bootpack %s --help' for the list of its commands.\n", argv[1]);
	return EXIT_USAGE;
}

static int dispatch(int argc, char **argv)
{
	if (argc < 2) {
		cli_error(NULL, "no command given");
		fputs("Try 'bootpack --help' for the list of commands.\n", stderr);
		return EXIT_USAGE;
	}
	if (is_help(argv[1])) {
		print_help(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("bootpack %s\n", BP_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(argv[1], commands[i].object))
			return dispatch_object(argc, argv);
	cli_error(NULL, "unknown object '%s'", CLI_ESC(argv[1]));
	fputs("Try 'bootpack --help' for the list of commands.\n", stderr);
	return EXIT_USAGE;
}

/*
 * The library maps large inputs (a kernel, a FIT) instead of copying them.
 * If another process truncates such a file meanwhile, touching the lost
 * pages raises SIGBUS: say so in one line and fail instead of dumping core.
 * Outputs are unnamed until committed (O_TMPFILE), so none is left behind.
 */
static void on_sigbus(int sig)
{
	static const char msg[] = "bootpack: an input file was truncated while it was being "
				  "read (SIGBUS); nothing was written\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* Nothing more to do: exiting is all that is left. */
	}
	_exit(EXIT_FAIL);
}

int main(int argc, char **argv)
{
	struct argv_list args = { 0 };
	struct sigaction sa = { .sa_handler = on_sigbus };
	char err[512];
	int ret;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	if (argfile_expand(argc, argv, &args, err, sizeof(err))) {
		cli_error_text(err);
		argv_free(&args);
		return EXIT_FAIL;
	}
	ret = dispatch((int)args.n, args.v);
	argv_free(&args);
	return ret;
}
