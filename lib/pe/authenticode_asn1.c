// SPDX-License-Identifier: MIT
/*
 * SpcIndirectDataContent, the content an Authenticode SignedData signs
 * (Microsoft's "Windows Authenticode Portable Executable Signature Format"),
 * as OpenSSL ASN.1 templates: encoded for signing, decoded for listing.
 *
 *   SpcIndirectDataContent ::= SEQUENCE {
 *       data            SpcAttributeTypeAndOptionalValue,
 *       messageDigest   DigestInfo }
 *   SpcAttributeTypeAndOptionalValue ::= SEQUENCE {
 *       type            OBJECT IDENTIFIER,   -- SPC_PE_IMAGE_DATAOBJ
 *       value           ANY OPTIONAL }       -- SpcPeImageData
 *   SpcPeImageData ::= SEQUENCE {
 *       flags           BIT STRING,
 *       file            [0] EXPLICIT SpcLink OPTIONAL }
 *   SpcLink ::= CHOICE {
 *       url             [0] IMPLICIT IA5String,
 *       moniker         [1] IMPLICIT SpcSerializedObject,
 *       file            [2] EXPLICIT SpcString }
 *   SpcString ::= CHOICE {
 *       unicode         [0] IMPLICIT BMPString,
 *       ascii           [1] IMPLICIT IA5String }
 *
 * The value written is the one every Windows and Linux signer writes (no
 * flags, file "<<<Obsolete>>>"); verifiers look only at the digest.
 */
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "authenticode_internal.h"

typedef struct {
	int type;
	union {
		ASN1_BMPSTRING *unicode;
		ASN1_IA5STRING *ascii;
	} value;
} SpcString;

ASN1_CHOICE(SpcString) = {
	ASN1_IMP(SpcString, value.unicode, ASN1_BMPSTRING, 0),
	ASN1_IMP(SpcString, value.ascii, ASN1_IA5STRING, 1)
} static_ASN1_CHOICE_END(SpcString)

typedef struct {
	ASN1_OCTET_STRING *class_id;
	ASN1_OCTET_STRING *data;
} SpcSerializedObject;

ASN1_SEQUENCE(SpcSerializedObject) = {
	ASN1_SIMPLE(SpcSerializedObject, class_id, ASN1_OCTET_STRING),
	ASN1_SIMPLE(SpcSerializedObject, data, ASN1_OCTET_STRING)
} static_ASN1_SEQUENCE_END(SpcSerializedObject)

typedef struct {
	int type;
	union {
		ASN1_IA5STRING *url;
		SpcSerializedObject *moniker;
		SpcString *file;
	} value;
} SpcLink;

ASN1_CHOICE(SpcLink) = {
	ASN1_IMP(SpcLink, value.url, ASN1_IA5STRING, 0),
	ASN1_IMP(SpcLink, value.moniker, SpcSerializedObject, 1),
	ASN1_EXP(SpcLink, value.file, SpcString, 2)
} static_ASN1_CHOICE_END(SpcLink)

typedef struct {
	ASN1_BIT_STRING *flags;
	SpcLink *file;
} SpcPeImageData;

ASN1_SEQUENCE(SpcPeImageData) = {
	ASN1_SIMPLE(SpcPeImageData, flags, ASN1_BIT_STRING),
	ASN1_EXP_OPT(SpcPeImageData, file, SpcLink, 0)
} static_ASN1_SEQUENCE_END(SpcPeImageData)

typedef struct {
	ASN1_OBJECT *type;
	ASN1_TYPE *value;
} SpcAttributeTypeAndOptionalValue;

ASN1_SEQUENCE(SpcAttributeTypeAndOptionalValue) = {
	ASN1_SIMPLE(SpcAttributeTypeAndOptionalValue, type, ASN1_OBJECT),
	ASN1_OPT(SpcAttributeTypeAndOptionalValue, value, ASN1_ANY)
} static_ASN1_SEQUENCE_END(SpcAttributeTypeAndOptionalValue)

typedef struct {
	X509_ALGOR *algorithm;
	ASN1_OCTET_STRING *digest;
} DigestInfo;

ASN1_SEQUENCE(DigestInfo) = {
	ASN1_SIMPLE(DigestInfo, algorithm, X509_ALGOR),
	ASN1_SIMPLE(DigestInfo, digest, ASN1_OCTET_STRING)
} static_ASN1_SEQUENCE_END(DigestInfo)

typedef struct {
	SpcAttributeTypeAndOptionalValue *data;
	DigestInfo *message_digest;
} SpcIndirectDataContent;

ASN1_SEQUENCE(SpcIndirectDataContent) = {
	ASN1_SIMPLE(SpcIndirectDataContent, data, SpcAttributeTypeAndOptionalValue),
	ASN1_SIMPLE(SpcIndirectDataContent, message_digest, DigestInfo)
} static_ASN1_SEQUENCE_END(SpcIndirectDataContent)

/* A new, empty structure of template type T. */
#define NEW(T) ((T *)ASN1_item_new(ASN1_ITEM_rptr(T)))

/* "<<<Obsolete>>>" in UTF-16BE, as signtool, sbsign and osslsigncode write it. */
static const char obsolete[] = "<<<Obsolete>>>";

bool bpi_obj_is(const ASN1_OBJECT *o, const char *oid)
{
	char buf[64];
	int n = o ? OBJ_obj2txt(buf, sizeof(buf), o, 1) : -1;

	return n > 0 && (size_t)n < sizeof(buf) && !strcmp(buf, oid);
}

enum bp_hash_algo bpi_hash_of_obj(const ASN1_OBJECT *o)
{
	switch (o ? OBJ_obj2nid(o) : NID_undef) {
	case NID_sha1: return BP_HASH_SHA1;
	case NID_sha256: return BP_HASH_SHA256;
	case NID_sha384: return BP_HASH_SHA384;
	case NID_sha512: return BP_HASH_SHA512;
	default: return BP_HASH_COUNT;
	}
}

static int nid_of_hash(enum bp_hash_algo a)
{
	switch (a) {
	case BP_HASH_SHA1: return NID_sha1;
	case BP_HASH_SHA256: return NID_sha256;
	case BP_HASH_SHA384: return NID_sha384;
	case BP_HASH_SHA512: return NID_sha512;
	default: return NID_undef;
	}
}

/* The SpcPeImageData value, DER-encoded, into @t. */
static int pe_image_data(ASN1_TYPE *t)
{
	SpcPeImageData *pid = NEW(SpcPeImageData);
	uint8_t bmp[2 * sizeof(obsolete)], *der = NULL;
	ASN1_STRING *s = ASN1_STRING_new();
	int len = -1;

	for (size_t i = 0; i + 1 < sizeof(obsolete); i++) {
		bmp[2 * i] = 0;
		bmp[2 * i + 1] = (uint8_t)obsolete[i];
	}
	if (!pid || !s || !(pid->file = NEW(SpcLink)))
		goto out;
	pid->file->type = 2;
	pid->file->value.file = NEW(SpcString);
	if (!pid->file->value.file)
		goto out;
	pid->file->value.file->type = 0;
	pid->file->value.file->value.unicode = ASN1_BMPSTRING_new();
	if (!pid->file->value.file->value.unicode ||
	    !ASN1_STRING_set(pid->file->value.file->value.unicode, bmp, 2 * (int)strlen(obsolete)))
		goto out;
	len = ASN1_item_i2d((ASN1_VALUE *)pid, &der, ASN1_ITEM_rptr(SpcPeImageData));
	if (len > 0) {
		ASN1_STRING_set0(s, der, len);
		ASN1_TYPE_set(t, V_ASN1_SEQUENCE, s);
		s = NULL;
	}
out:
	ASN1_STRING_free(s);
	ASN1_item_free((ASN1_VALUE *)pid, ASN1_ITEM_rptr(SpcPeImageData));
	return len > 0 ? 0 : -1;
}

int bpi_spc_encode(enum bp_hash_algo algo, const uint8_t *md, uint8_t **der, int *len)
{
	SpcIndirectDataContent *idc = NEW(SpcIndirectDataContent);
	int ret = -1;

	*der = NULL;
	if (!idc)
		return -1;
	ASN1_OBJECT_free(idc->data->type);
	if (!(idc->data->type = OBJ_txt2obj(BPI_OID_SPC_PE_IMAGE_DATA, 1)) ||
	    !(idc->data->value = ASN1_TYPE_new()) || pe_image_data(idc->data->value) ||
	    !X509_ALGOR_set0(idc->message_digest->algorithm, OBJ_nid2obj(nid_of_hash(algo)),
			     V_ASN1_NULL, NULL) ||
	    !ASN1_OCTET_STRING_set(idc->message_digest->digest, md, (int)bp_hash_len(algo)))
		goto out;
	*len = ASN1_item_i2d((ASN1_VALUE *)idc, der, ASN1_ITEM_rptr(SpcIndirectDataContent));
	ret = *len > 0 ? 0 : -1;
out:
	ASN1_item_free((ASN1_VALUE *)idc, ASN1_ITEM_rptr(SpcIndirectDataContent));
	return ret;
}

const char *bpi_spc_decode(const uint8_t *der, long len, enum bp_hash_algo *algo,
			   uint8_t md[BP_HASH_MAX_LEN])
{
	const uint8_t *p = der;
	SpcIndirectDataContent *idc = (SpcIndirectDataContent *)ASN1_item_d2i(
		NULL, &p, len, ASN1_ITEM_rptr(SpcIndirectDataContent));
	const char *why = NULL;
	const ASN1_OCTET_STRING *dg;

	if (!idc) {
		why = "its SpcIndirectDataContent is malformed";
	} else if (!bpi_obj_is(idc->data->type, BPI_OID_SPC_PE_IMAGE_DATA) &&
		   !bpi_obj_is(idc->data->type, BPI_OID_SPC_INDIVIDUAL_SP_KEY_PURPOSE)) {
		why = "its SpcIndirectDataContent is not for a PE image (no SpcPeImageData)";
	} else if ((*algo = bpi_hash_of_obj(idc->message_digest->algorithm->algorithm)) ==
		   BP_HASH_COUNT) {
		why = "the image digest's algorithm is not sha1, sha256, sha384 or sha512";
	} else {
		dg = idc->message_digest->digest;
		if ((size_t)ASN1_STRING_length(dg) != bp_hash_len(*algo))
			why = "the image digest's length does not match its algorithm";
		else
			memcpy(md, ASN1_STRING_get0_data(dg), bp_hash_len(*algo));
	}
	ASN1_item_free((ASN1_VALUE *)idc, ASN1_ITEM_rptr(SpcIndirectDataContent));
	return why;
}

/* DER contents of the hash OIDs EDK2 compares at offset 32. */
static const struct {
	enum bp_hash_algo algo;
	uint8_t len, oid[9];
} edk2_oids[] = {
	{ BP_HASH_SHA1, 5, { 0x2b, 0x0e, 0x03, 0x02, 0x1a } },
	{ BP_HASH_SHA256, 9, { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01 } },
	{ BP_HASH_SHA384, 9, { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02 } },
	{ BP_HASH_SHA512, 9, { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03 } },
};

#define EDK2_OID_AT 32

const char *bpi_edk2_readable(const uint8_t *der, size_t len, enum bp_hash_algo algo)
{
	/* HashPeImageByType(): "only support two bytes of Long Form of Length Encoding". */
	if (len < 2 || der[1] != 0x82)
		return "UEFI firmware (EDK2) reads only a SignedData of 256 to 65535 bytes "
		       "(two-byte DER length)";
	for (size_t i = 0; i < sizeof(edk2_oids) / sizeof(edk2_oids[0]); i++) {
		if (len < (size_t)EDK2_OID_AT + edk2_oids[i].len ||
		    memcmp(der + EDK2_OID_AT, edk2_oids[i].oid, edk2_oids[i].len))
			continue;
		if (edk2_oids[i].algo != algo)
			return "UEFI firmware (EDK2) takes the SignedData's first digest algorithm "
			       "for the image digest's, and they differ";
		return NULL;
	}
	return "UEFI firmware (EDK2) finds no digest algorithm at offset 32 of the SignedData "
	       "(its outer lengths are not two-byte encoded)";
}
