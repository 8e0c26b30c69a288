/*
 * scan_dnsbl_int.h - private to scan_dnsbl*.c: the parsed sites.
 */
#ifndef SCAN_DNSBL_SCAN_DNSBL_INT_H
#define SCAN_DNSBL_SCAN_DNSBL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan/dnsbl/scan_dnsbl.h"

/* 64 octets of reversed IPv6 nibbles + the zone must fit a DNS name. */
#define DNSBL_ZONE_LEN_MAX 180

struct dnsbl_pattern {
	size_t zone; /* index into zones */
	bool any;    /* no filter */
	uint8_t oct[4][32]; /* allowed values of each answer octet */
	int weight;
};

struct scan_dnsbl_sites {
	char *zones[SCAN_DNSBL_ZONES_MAX];
	size_t nzones;
	struct dnsbl_pattern pat[SCAN_DNSBL_PATTERNS_MAX];
	size_t npat;
};

/* Index of the first listing answer of a[0..n) p matches, or -1. */
int dnsbl_pattern_match(const struct dnsbl_pattern *p, const uint8_t (*a)[4], size_t n);

#endif
