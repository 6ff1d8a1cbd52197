/* SPDX-License-Identifier: MIT */
/*
 * The bootloader rules (included once, by fit_target.c). Each row: id,
 * targets, effect, what is checked, what the bootloader does, and where in
 * its source that is. Releases and commits are those read; a rule that
 * holds for a range of releases says so.
 */
#ifndef BP_FIT_TARGET_RULES_H
#define BP_FIT_TARGET_RULES_H

static const struct rule_def rules[] = {
	/* ---- U-Boot ---- */
	{ RULE("u-boot-unit-address", UBOOT_ALL, REFUSED,
	       "a node name with a unit address ('@')",
	       "U-Boot built with FIT_SIGNATURE refuses it whether or not the FIT is signed: "
	       "\"Node name contains @\" for images, and the whole FIT with FIT_FULL_CHECK",
	       "u-boot boot/image-fit.c fit_image_verify() (79af75f7776) and fit_check_format() "
	       "(3f04db891a3), v2021.04 to v2026.07"),
	  PER_FIT, at_names },
	{ RULE("u-boot-compressed-fdt", UBOOT_ALL, MISREAD,
	       "a configuration without 'compatible' whose fdt is compressed",
	       "skipped when U-Boot picks the configuration matching the board; only the default "
	       "or a named configuration boots it",
	       "u-boot boot/image-fit.c fit_conf_find_compat(), v2023.01 and v2026.07"),
	  PER_CONFIG, compressed_fdt_no_compat },
	{ RULE("u-boot-noload-addresses", UBOOT_ALL, REFUSED,
	       "a kernel_noload image without 'load' or 'entry'",
	       "bootm fails: \"Can't get image load address!\" or \"Can't get entry point "
	       "property!\" (both optional since v2026.10-rc1)",
	       "u-boot boot/bootm.c bootm_find_os(), v2023.01 to v2026.07; relaxed by "
	       "c2abc606653 and c63051237f2"),
	  PER_IMAGE, noload_addresses },
	{ RULE("u-boot-noload-compressed", T(UBOOT_2023), REFUSED,
	       "a compressed kernel_noload image",
	       "not decompressed before v2024.04: an arm64 kernel fails with \"Bad Linux ARM64 "
	       "Image magic!\"; build with --load-address (type kernel) instead",
	       "u-boot boot/bootm.c bootm_find_os() and bootm_load_os(), v2023.01; decompression "
	       "added by 69544c4fd8b in v2024.04"),
	  PER_IMAGE, noload_compressed },
	{ RULE("u-boot-noload-ratio", T(UBOOT), REFUSED,
	       "a compressed kernel_noload image larger than 4 times its stored size, rounded up "
	       "to 1 MiB, once decompressed",
	       "the decompression buffer is that size: the kernel overruns it (v2024.04 to "
	       "v2026.07) or fails to decompress (v2026.10-rc1 on)",
	       "u-boot boot/bootm.c bootm_load_os(), 69544c4fd8b (v2024.04) to v2026.07; "
	       "bounded by 914ebe8b16b"),
	  PER_IMAGE, noload_ratio },
	{ RULE("u-boot-ramdisk-compression", UBOOT_ALL, MISREAD,
	       "a ramdisk with a compression other than none",
	       "not decompressed (\"'compression' nodes for ramdisks are deprecated\"): the "
	       "kernel gets the stored bytes and must unpack them itself",
	       "u-boot boot/image-fit.c fit_image_load(), v2023.01 and v2026.07"),
	  PER_IMAGE, ramdisk_comp },

	/* ---- barebox ---- */
	{ RULE("barebox-external", T(BAREBOX), REFUSED,
	       "image data stored external (data-offset or data-position)",
	       "barebox reads only the embedded 'data' property: \"data not found\"",
	       "barebox common/image-fit.c fit_open_image(), v2026.06.0"),
	  PER_IMAGE, external },
	{ RULE("barebox-compression", T(BAREBOX), REFUSED,
	       "a kernel, fdt or other non-ramdisk image compressed other than gzip, bzip2, lzo "
	       "or zstd",
	       "barebox detects the format by magic and has no .lzma decoder, and knows only the "
	       "legacy lz4 magic, not the lz4 frame: \"unsupported compression filetype\"",
	       "barebox common/image-fit.c fit_handle_decompression(), lib/uncompress.c "
	       "uncompress(), common/filetype.c file_detect_compression_type(), v2026.06.0"),
	  PER_IMAGE, barebox_comp },
	{ RULE("barebox-ramdisk-compression", T(BAREBOX), MISREAD,
	       "a ramdisk with a compression other than none",
	       "not decompressed (\"deprecated\" warning): the kernel gets the stored bytes",
	       "barebox common/image-fit.c fit_handle_decompression(), v2026.06.0"),
	  PER_IMAGE, ramdisk_comp },
	{ RULE("barebox-compressed-fdt", T(BAREBOX), MISREAD,
	       "a configuration without 'compatible' whose fdt is compressed",
	       "skipped (\"skipping compressed configuration\") when barebox picks the "
	       "configuration matching the board; only the default or a named one boots it",
	       "barebox common/image-fit.c fit_fdt_is_compatible(), v2026.06.0"),
	  PER_CONFIG, compressed_fdt_no_compat },
	{ RULE("barebox-overlays", T(BAREBOX), MISREAD,
	       "a configuration whose 'fdt' lists overlays after the base devicetree",
	       "bootm loads only the first fdt; barebox applies overlays only from a separate FIT "
	       "named by global.of.overlay.path",
	       "barebox common/bootm-fit.c loadable_from_fit_oftree(), drivers/of/overlay.c, "
	       "v2026.06.0"),
	  PER_CONFIG, overlays },
	{ RULE("barebox-signature-algo", T(BAREBOX), REFUSED,
	       "a configuration signature node whose algo is not sha1,... or sha256,...",
	       "\"unknown algo\": the configuration is refused whenever barebox checks "
	       "signatures (global.bootm.verify=signature or available)",
	       "barebox common/image-fit.c fit_alloc_digest() and fit_config_verify_signature(), "
	       "v2026.06.0"),
	  PER_CONFIG, barebox_cfg_sig },
	{ RULE("barebox-image-signature", T(BAREBOX), MISREAD,
	       "an image with signature nodes",
	       "not checked: bootm opens images through their configuration, which checks "
	       "hashes only, and verifies configuration signatures alone; with "
	       "global.bootm.verify=signature an unsigned configuration is refused",
	       "barebox common/image-fit.c fit_open_image() and fit_config_verify_signature(), "
	       "common/bootm-fit.c, v2026.06.0"),
	  PER_IMAGE, img_signed },

	/* ---- depthcharge ---- */
	{ RULE("depthcharge-external", T(DEPTHCHARGE), REFUSED,
	       "image data stored external (data-offset or data-position)",
	       "depthcharge reads only the embedded 'data' property: the image has no data",
	       "depthcharge src/boot/fit.c image_node(), main d1dab57"),
	  PER_IMAGE, external },
	{ RULE("depthcharge-compression", T(DEPTHCHARGE), REFUSED,
	       "a kernel, fdt or other non-ramdisk image compressed other than lzma or lz4",
	       "\"Illegal compression algorithm\"",
	       "depthcharge src/boot/fit.c image_node() and fit_decompress(), main d1dab57"),
	  PER_IMAGE, depthcharge_comp },
	{ RULE("depthcharge-ramdisk-compression", T(DEPTHCHARGE), REFUSED,
	       "a ramdisk with a compression other than none",
	       "\"Ramdisk compression not supported.\"",
	       "depthcharge src/boot/fit.c fit_load(), main d1dab57"),
	  PER_IMAGE, ramdisk_comp },
	{ RULE("depthcharge-kernel-fdt", T(DEPTHCHARGE), REFUSED,
	       "a configuration without 'kernel' or without 'fdt'",
	       "the configuration is skipped (\"config ... has no FDT, skipping\")",
	       "depthcharge src/boot/fit.c fit_load(), main d1dab57"),
	  PER_CONFIG, no_kernel_or_fdt },
	{ RULE("depthcharge-compressed-fdt", T(DEPTHCHARGE), REFUSED,
	       "a configuration without 'compatible' whose fdt is compressed",
	       "the configuration is skipped, even as the default (\"has a compressed FDT without "
	       "external compatible property\")",
	       "depthcharge src/boot/fit.c fit_rank_compat(), main d1dab57"),
	  PER_CONFIG, compressed_fdt_no_compat },
	{ RULE("depthcharge-overlays", T(DEPTHCHARGE), REFUSED,
	       "a configuration without 'compatible' whose 'fdt' lists overlays",
	       "the configuration is skipped (\"has overlay but no compat!\")",
	       "depthcharge src/boot/fit.c fit_rank_compat(), main d1dab57"),
	  PER_CONFIG, overlays_no_compat },
	{ RULE("depthcharge-fdt-compatible", T(DEPTHCHARGE), REFUSED,
	       "a configuration without 'compatible' whose fdt's root has none either",
	       "the configuration is skipped (\"Can't find compat string in FDT\")",
	       "depthcharge src/boot/fit.c fit_rank_compat() and fdt_find_compat(), main d1dab57"),
	  PER_CONFIG, fdt_root_no_compat },

	/* ---- LinuxBoot (u-root) ---- */
	{ RULE("linuxboot-external", T(LINUXBOOT), REFUSED,
	       "image data stored external (data-offset or data-position)",
	       "u-root reads only the embedded 'data' property: the image is not found",
	       "u-root pkg/boot/fit/fit.go ReadImage(), v0.16.0"),
	  PER_IMAGE, external },
	{ RULE("linuxboot-kernel-compression", T(LINUXBOOT), REFUSED,
	       "a kernel with a compression other than none",
	       "u-root decompresses nothing: kexec gets the compressed bytes as the kernel",
	       "u-root pkg/boot/fit/fit.go Load() and ReadImage(), v0.16.0"),
	  PER_IMAGE, kernel_comp },
	{ RULE("linuxboot-ramdisk-compression", T(LINUXBOOT), MISREAD,
	       "a ramdisk with a compression other than none",
	       "not decompressed: the kernel gets the stored bytes and must unpack them itself",
	       "u-root pkg/boot/fit/fit.go Load() and ReadImage(), v0.16.0"),
	  PER_IMAGE, ramdisk_comp },
	{ RULE("linuxboot-default", T(LINUXBOOT), REFUSED,
	       "no /configurations default",
	       "fitboot finds no configuration unless given -config NAME or -k IMAGE",
	       "u-root pkg/boot/fit/fit.go GetConfigName(), cmds/boot/fitboot/main_linux.go, "
	       "v0.16.0"),
	  PER_FIT, no_default },
	{ RULE("linuxboot-fdt", T(LINUXBOOT), MISREAD,
	       "a configuration with an 'fdt'",
	       "ignored: u-root reads only 'kernel' and 'ramdisk', and kexec keeps the running "
	       "system's devicetree",
	       "u-root pkg/boot/fit/fit.go LoadConfig(), v0.16.0"),
	  PER_CONFIG, has_fdt },
	{ RULE("linuxboot-config-signature", T(LINUXBOOT), MISREAD,
	       "a configuration with signature nodes",
	       "not checked: u-root verifies only signature nodes under images, and only with "
	       "fitboot -r KEYRING",
	       "u-root pkg/boot/fit/vfit.go ReadSignedImage(), v0.16.0"),
	  PER_CONFIG, cfg_signed },
};

#endif
