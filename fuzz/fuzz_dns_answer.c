/*
 * fuzz_dns_answer.c - libFuzzer target for dns_answer_ttl(), our own walk
 * over a raw DNS answer (names with compression pointers, questions,
 * answer records) to find a TXT record's TTL, which c-ares does not give.
 * The answer comes from the network (a DNSBL's server): any bytes.
 *
 * Input: a raw DNS message. Invariants: no read outside the buffer (ASan),
 * it ends (no loop on pointer cycles: the walk only moves forward), and
 * the answer for a prefix of the input is computed as well.
 */
#include <string.h>

#include "dns/dns.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65535)
		return 0;
	unsigned char *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	(void)dns_answer_ttl(copy, (int)size, 16);
	(void)dns_answer_ttl(copy, (int)size, 1);
	(void)dns_answer_ttl(copy, (int)(size / 2), 16);
	free(copy);
	return 0;
}
