/* SPDX-License-Identifier: MIT */
/*
 * FIT (U-Boot Flat Image Tree) images.
 *
 * bp_fit_build() produces the tree the Linux kernel's scripts/make_fit.py
 * writes (same nodes, properties and order), compressing in-process and,
 * for external data, laying the file out as `mkimage -E` does.
 *
 * bp_fit_open() reads any FIT (untrusted) for listing, extracting and
 * verifying.
 *
 * How this API grows without breaking programs built against older headers
 * (the rules for every bootpack header; <bootpack/pe.h> follows them too):
 *
 * - Structs the caller fills and passes in (options, and the stats structs
 *   the library fills in) start with "size_t size", which the caller sets to
 *   sizeof the struct, most simply with the _INIT macro next to each struct
 *   (struct bp_fit_build_opts o = BP_FIT_BUILD_OPTS_INIT;). The library reads
 *   min(caller's size, its own size) bytes and treats the rest as zero. A size
 *   smaller than the first version of the struct is BP_ERR_INVALID. A larger
 *   size (a program built against newer headers) is accepted only when every
 *   byte the library does not know is zero, otherwise BP_ERR_UNSUPPORTED: an
 *   option is never silently ignored. Into stats structs the library writes
 *   only min(caller's size, its own size) bytes, leaving the rest untouched.
 * - Structs the library returns by pointer (infos, images, configurations,
 *   hashes, checks) also start with "size_t size", set by the library to the
 *   size it knows: a program wanting a field added later checks
 *   "x->size >= offsetof(struct ..., field) + sizeof(x->field)" first (an
 *   older library did not fill it). Their elements are reached only through
 *   accessors (bp_fit_image_at()...), never by indexing an array with the
 *   caller's sizeof, so they too may grow.
 * - Adding a field: append it at the end of the struct, starting at or after
 *   the previous version's sizeof (if that version ends in padding, put an
 *   explicit padding member first: a caller's padding bytes are not known to
 *   be zero), and give it a meaning where zero is the old behaviour. Never
 *   reorder, remove or resize a field; a struct embedded in another (struct
 *   bp_pe_zboot, struct bp_pe_dir) is frozen: new fields go to the enclosing
 *   struct.
 * - New functions get a new symbol version node in lib/libbootpack.map; the
 *   API in <bootpack/experimental.h> carries no ABI promise at all.
 *
 * BOOTPACK_ABI_GROWTH_TEST (tests/abi only) appends a field to every growable
 * struct to test these rules; never define it elsewhere.
 */
#ifndef BOOTPACK_FIT_H
#define BOOTPACK_FIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bootpack/codec.h>
#include <bootpack/error.h>
#include <bootpack/hash.h>

struct bp_key;
struct bp_fit_sign_opts;
struct bp_fit_target_rule;

#ifdef __cplusplus
extern "C" {
#endif

/* Default alignment of external data, as mkimage -E without -B. */
#define BP_FIT_EXTERNAL_ALIGN 4
/* DTBs are placed 8-aligned in the file so U-Boot can use them in place. */
#define BP_FIT_FDT_ALIGN 8

struct bp_fit_build_opts {
	size_t size;               /* sizeof(struct bp_fit_build_opts): see the top of this file */
	const char *name;          /* kernel description; root is "NAME with devicetree set" */
	const char *arch;          /* FIT arch, e.g. "arm64" */
	const char *os;            /* FIT os, e.g. "linux" */
	const char *kernel;        /* path of the (uncompressed) kernel */
	const char *ramdisk;       /* path of an initrd stored as-is, or NULL */
	const char *const *dtbs;   /* DTB paths; ".dtbo" entries are ignored */
	size_t n_dtbs;
	enum bp_codec compress;    /* applied to the kernel and every DTB */
	bool external;             /* place data after the FDT (mkimage -E) */
	uint32_t align;            /* external data alignment (mkimage -B); 0 = 4 */
	bool decompose;            /* split composite DTBs using Kbuild's .cmd files */
	uint32_t timestamp;        /* root "timestamp" */
	unsigned int jobs;         /* compression threads; 0 = 1 (the library starts no
				      thread unless asked) */
	int level;                 /* compression level; 0 = the command-line tool's
				      default (see bp_codec_levels()) */

	/* Extensions beyond make_fit.py; all off when zeroed. */
	const enum bp_hash_algo *hashes; /* "hash-1".. nodes under every image, in order */
	size_t n_hashes;
	const char *default_config;      /* /configurations/default, e.g. "conf-1" */
	/*
	 * Store the kernel as type "kernel" with these addresses instead of
	 * "kernel_noload" with 0: U-Boot before v2024.04 can boot a compressed
	 * kernel only this way. The entry defaults to the load address.
	 */
	bool has_load_address;
	uint64_t load_address;
	bool has_entry_address;
	uint64_t entry_address;
	/*
	 * Since 1.1: sign every configuration with this key (struct bp_key, see
	 * <bootpack/sign.h>) as the FIT is written; sign_opts may be NULL for
	 * the defaults. Images get a sha256 hash node when hashes has none.
	 */
	const struct bp_key *sign_key;
	const struct bp_fit_sign_opts *sign_opts;
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;  /* test-only: a field a later version appends */
#endif
};

#define BP_FIT_BUILD_OPTS_INIT { .size = sizeof(struct bp_fit_build_opts) }

struct bp_fit_build_stats {
	size_t size;               /* sizeof(struct bp_fit_build_stats) */
	size_t n_files;            /* images written: kernel, ramdisk, DTBs */
	size_t n_configs;
	uint64_t input_bytes;      /* total size of the stored input files */
	uint64_t fit_size;         /* bytes in the output file */
	uint64_t fdt_size;         /* FDT totalsize (the header, with -E) */
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;  /* test-only */
#endif
};

#define BP_FIT_BUILD_STATS_INIT { .size = sizeof(struct bp_fit_build_stats) }

/*
 * Build a FIT from @o and write it to @out_path atomically (a temporary file
 * in the same directory, renamed into place only on success; an existing
 * @out_path is untouched on failure). @st may be NULL.
 *
 * Returns 0, or a negative BP_ERR_* with the offending file and reason in @d:
 * BP_ERR_IO (unreadable input, unwritable output), BP_ERR_FORMAT (not a DTB,
 * missing compatible/model, bad .cmd, an empty kernel), BP_ERR_INVALID (bad
 * options or struct sizes), BP_ERR_UNSUPPORTED (an option this library
 * version does not know is set),
 * BP_ERR_TOOBIG (over the 4 GiB limits of FDT offsets), BP_ERR_NOMEM,
 * BP_ERR_CODEC.
 */
int bp_fit_build(const struct bp_fit_build_opts *o, const char *out_path,
		 struct bp_fit_build_stats *st, struct bp_diag *d);

/* ---- Building from an image tree source (.its), as mkimage -f ---- */

struct bp_fit_its_opts {
	size_t size;               /* sizeof(struct bp_fit_its_opts) */
	const char *dtc;           /* the dtc program; NULL = "dtc" from PATH */
	/*
	 * dtc's options (mkimage -D): NULL = mkimage's "-I dts -O dtb -p 500".
	 * Split at blanks (no shell quoting); "-i DIR" also tells where
	 * /incbin/ files are looked for.
	 */
	const char *dtc_opts;
	/*
	 * mkimage -k: sign every signature-N node with KEYDIR/NAME.key (else
	 * NAME.pem), NAME its key-name-hint. NULL: signature nodes are left
	 * unsigned, as mkimage leaves them.
	 */
	const char *keydir;
	const char *key_out;       /* mkimage -K: put the public keys into this control DTB */
	bool required;             /* mkimage -r: mark them required ("conf" or "image") */
	bool external;             /* mkimage -E: data after the tree */
	uint32_t position;         /* mkimage -p: with external, data-position from here */
	uint32_t align;            /* mkimage -B: external data and tree end alignment; 0 = 4 */
	uint32_t timestamp;        /* root and signature "timestamp" (SOURCE_DATE_EPOCH) */
	unsigned int jobs;         /* hashing and signing threads; 0 = 1 */
	unsigned int dtc_timeout;  /* seconds dtc may run; 0 = 600 */
	/* dtc's warnings, one line each (raw bytes: escape before printing); NULL = dropped. */
	void (*dtc_message)(void *ctx, const char *line);
	void *ctx;
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;  /* test-only */
#endif
};

#define BP_FIT_ITS_OPTS_INIT { .size = sizeof(struct bp_fit_its_opts) }

/*
 * Compile @its with dtc and do what mkimage 2023.01 -f does to the result:
 * root timestamp, every image hash-N value, every signature-N signed (with
 * keydir), external data laid out (external); the tree comes out as
 * mkimage's (signer-name and signer-version aside), including where mkimage
 * would fail for want of room (over 64 KiB of additions). Every /incbin/
 * file must be a regular file (a FIFO or a device is refused before dtc
 * runs); configurations must name existing images. Written atomically to
 * @out_path. @st (may be NULL): n_files = images, n_configs, fit_size,
 * fdt_size, input_bytes = the /incbin/ bytes.
 *
 * Returns 0 or a negative BP_ERR_*: BP_ERR_FORMAT (dtc's first error line,
 * or the node path of what is wrong), BP_ERR_IO, BP_ERR_TOOBIG,
 * BP_ERR_NOMEM, BP_ERR_INVALID, BP_ERR_UNSUPPORTED, and the signing errors
 * of bp_fit_sign().
 */
int bp_fit_build_its(const char *its, const struct bp_fit_its_opts *o, const char *out_path,
		     struct bp_fit_build_stats *st, struct bp_diag *d);

/* ---- Reading ---- */

/* A FIT read into memory. Opaque; everything below points into it. */
struct bp_fit;

struct bp_fit_hash {
	size_t size;                /* set by the library: see the top of this file */
	const char *node;           /* "hash-1" */
	const char *algo;           /* NULL when missing or not a string */
	const uint8_t *value;       /* NULL when missing */
	size_t value_len;
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

struct bp_fit_image {
	size_t size;                /* set by the library */
	const char *name;           /* node name under /images */
	/* String properties; NULL when absent. */
	const char *description, *type, *arch, *os, *compression;
	bool has_load, has_entry;
	uint64_t load, entry;
	bool external;              /* data-offset or data-position, not "data" */
	const uint8_t *data;        /* the stored bytes; NULL when unusable (see problem) */
	uint64_t data_size;
	uint64_t data_file_offset;  /* where the stored bytes start in the file */
	size_t n_hashes;            /* hash-N nodes: bp_fit_hash_at() */
	size_t n_signatures;        /* "signature-N" nodes (not verified by bootpack) */
	const char *problem;        /* the first thing wrong with this node, or NULL */
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

struct bp_fit_config {
	size_t size;                /* set by the library */
	const char *name;
	const char *description;    /* NULL when absent */
	const char *kernel;         /* image names; NULL when absent */
	const char *ramdisk;
	const char *const *fdts;
	size_t n_fdts;
	const char *const *loadables;
	size_t n_loadables;
	const char *const *compatibles;
	size_t n_compatibles;
	size_t n_hashes, n_signatures;
	const char *problem;        /* the first thing wrong with this node, or NULL */
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

struct bp_fit_info {
	size_t size;                /* set by the library */
	const char *description;    /* root "description"; NULL when absent */
	bool has_timestamp;
	uint32_t timestamp;
	const char *default_config; /* NULL when absent */
	uint64_t file_size;
	uint32_t fdt_size;          /* the FDT's totalsize (external data follows it) */
	size_t n_images;            /* bp_fit_image_at() */
	size_t n_configs;           /* bp_fit_config_at() */
	bool has_configurations;    /* a /configurations node exists */
	const char *unit_address_node; /* first node whose name has '@', or NULL */
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

/* Largest FIT bp_fit_open() reads: 32-bit data-offset plus 32-bit size past a 2 GiB FDT. */
#define BP_FIT_READ_MAX (10ULL << 30)

/*
 * Read the FIT at @path. Fails (BP_ERR_FORMAT, reason in @d) only when the
 * file as a whole is unusable: not a devicetree, malformed structure, no
 * /images node. Problems confined to one image or configuration are
 * recorded in its "problem" so the rest can still be listed and verified.
 */
int bp_fit_open(const char *path, struct bp_fit **out, struct bp_diag *d);
/* The same for @len bytes at @data (copied); @name is used in messages. */
int bp_fit_open_mem(const void *data, size_t len, const char *name, struct bp_fit **out,
		    struct bp_diag *d);
void bp_fit_close(struct bp_fit *fit);

const struct bp_fit_info *bp_fit_get_info(const struct bp_fit *fit);

/* Image @i (below n_images), configuration @i (below n_configs); NULL past the end. */
const struct bp_fit_image *bp_fit_image_at(const struct bp_fit *fit, size_t i);
const struct bp_fit_config *bp_fit_config_at(const struct bp_fit *fit, size_t i);
/* Hash node @i (below that image's n_hashes) of image @image; NULL past the end. */
const struct bp_fit_hash *bp_fit_hash_at(const struct bp_fit *fit, size_t image, size_t i);

/* Index of the image or configuration called @name, or BP_ERR_NOTFOUND. */
int bp_fit_find_image(const struct bp_fit *fit, const char *name);
int bp_fit_find_config(const struct bp_fit *fit, const char *name);

/* ---- Verifying ---- */

enum bp_fit_check_level { BP_FIT_CHECK_OK, BP_FIT_CHECK_WARN, BP_FIT_CHECK_FAIL };

/* One finding of bp_fit_verify(). */
struct bp_fit_check {
	size_t size;                /* set by the library */
	enum bp_fit_check_level level;
	const char *node;           /* "kernel", "conf-1"; "" for the file as a whole */
	const char *msg;            /* e.g. "sha256 hash matches" */
	/* Since 1.1, for signature findings (NULL otherwise). */
	const char *signature;      /* "signature-1" */
	const char *algo;           /* "sha256,rsa2048", as the signature node says */
	const char *key_name;       /* the key that verified it, else the key-name-hint */
	/*
	 * Since 1.3, for findings of bp_fit_target_check() (NULL otherwise):
	 * the bootloader rule broken, see <bootpack/fit_target.h>.
	 */
	const struct bp_fit_target_rule *rule;
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

typedef void (*bp_fit_check_fn)(void *ctx, const struct bp_fit_check *c);

/* Decompressed images are capped at this many bytes unless told otherwise. */
#define BP_FIT_DECOMPRESS_MAX_DEFAULT (1ULL << 30)

struct bp_fit_verify_opts {
	size_t size;                /* sizeof(struct bp_fit_verify_opts) */
	bool decompress;            /* also decompress every image and check its contents */
	uint64_t max_decompressed;  /* 0 = BP_FIT_DECOMPRESS_MAX_DEFAULT */
	unsigned int jobs;          /* hashing threads; 0 = 1 */
	/*
	 * Since 1.1: check signatures as U-Boot does against the public keys in
	 * this control devicetree (its /signature node, see <bootpack/sign.h>),
	 * with U-Boot's policy (required keys, required-mode). NULL: signatures
	 * are not checked.
	 */
	unsigned int pad_1_1;       /* explicit padding: must be zero */
	const void *keys_fdt;
	size_t keys_fdt_len;
	const char *const *configs; /* only these configurations; NULL = all */
	size_t n_configs;
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

#define BP_FIT_VERIFY_OPTS_INIT { .size = sizeof(struct bp_fit_verify_opts) }

struct bp_fit_verify_stats {
	size_t size;                /* sizeof(struct bp_fit_verify_stats) */
	size_t n_ok, n_warnings, n_failures;
	size_t n_hashes;            /* hash values checked */
	size_t n_signatures_ok;     /* since 1.1: signatures that verified */
	size_t n_signatures_bad;    /* since 1.1: signatures that did not */
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

#define BP_FIT_VERIFY_STATS_INIT { .size = sizeof(struct bp_fit_verify_stats) }

/*
 * Check @fit as U-Boot would before booting it: structure, that every
 * image's data lies inside the file, every hash node (algorithm known, value
 * of the right length and equal to the hash of the stored bytes), that
 * configurations name existing images of the right type, and that plain
 * kernels and devicetrees look like what they claim to be. Each finding goes
 * to @fn (may be NULL) in file order. @o and @st may be NULL.
 *
 * Returns 0 when the checks ran (failures are counted in @st, not returned),
 * or a negative BP_ERR_* when they could not (e.g. BP_ERR_NOMEM).
 */
int bp_fit_verify(const struct bp_fit *fit, const struct bp_fit_verify_opts *o,
		  bp_fit_check_fn fn, void *ctx, struct bp_fit_verify_stats *st,
		  struct bp_diag *d);

/* ---- Extracting ---- */

struct bp_fit_extract_opts {
	size_t size;                /* sizeof(struct bp_fit_extract_opts) */
	bool raw;                   /* write the stored bytes, not decompressed */
	bool no_verify;             /* skip the image's hash check */
	uint64_t max_size;          /* cap on decompressed bytes; 0 = BP_FIT_DECOMPRESS_MAX_DEFAULT */
#ifdef BOOTPACK_ABI_GROWTH_TEST
	uint64_t abi_growth_test;   /* test-only */
#endif
};

#define BP_FIT_EXTRACT_OPTS_INIT { .size = sizeof(struct bp_fit_extract_opts) }

/*
 * Write image @index of @fit to @out_path atomically: decompressed according
 * to its "compression" unless @o->raw, after checking its hash nodes unless
 * @o->no_verify (@o may be NULL). @written (may be NULL) receives the byte count.
 */
int bp_fit_extract(const struct bp_fit *fit, size_t index, const struct bp_fit_extract_opts *o,
		   const char *out_path, uint64_t *written, struct bp_diag *d);

#ifdef __cplusplus
}
#endif

#endif
