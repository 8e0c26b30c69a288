/*
 * test_dns_answer.c - dns_answer_ttl(): the TTL of the first answer record of
 * a type in a raw DNS answer (used for DNSBL TXT reasons), and 0 for damaged
 * or missing records.
 */
#include "unit.h"

#include "dns/dns.h"

/* header (1 question, 1 answer) + question 1.bl.test TXT/IN + answer via a pointer */
static const unsigned char TXT_ANSWER[] = {
	0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,		   /* header */
	1, '1', 2, 'b', 'l', 4, 't', 'e', 's', 't', 0, 0, 16, 0, 1, /* question */
	0xc0, 12, 0, 16, 0, 1, 0, 0, 0x0e, 0x10, 0, 3, 2, 'h', 'i', /* TXT, ttl 3600, "hi" */
};

static void test_ttl(void **state)
{
	(void)state;
	unit_case("TXT answer: ttl 3600", TXT_ANSWER, sizeof TXT_ANSWER);
	U_EQ_INT(dns_answer_ttl(TXT_ANSWER, (int)sizeof TXT_ANSWER, 16), 3600);
	unit_case("no A record in it", TXT_ANSWER, sizeof TXT_ANSWER);
	U_EQ_INT(dns_answer_ttl(TXT_ANSWER, (int)sizeof TXT_ANSWER, 1), 0);
	unit_case("answer cut inside the record header", TXT_ANSWER, 34);
	U_EQ_INT(dns_answer_ttl(TXT_ANSWER, 34, 16), 0);
	unit_case("only the DNS header", TXT_ANSWER, 12);
	U_EQ_INT(dns_answer_ttl(TXT_ANSWER, 12, 16), 0);
	unit_case("shorter than a header", TXT_ANSWER, 5);
	U_EQ_INT(dns_answer_ttl(TXT_ANSWER, 5, 16), 0);
	unsigned char loop[sizeof TXT_ANSWER];
	memcpy(loop, TXT_ANSWER, sizeof loop);
	loop[12] = 0xc0; /* the question name points at itself */
	loop[13] = 12;
	unit_case("question name is a pointer to itself", loop, sizeof loop);
	(void)dns_answer_ttl(loop, (int)sizeof loop, 16); /* ends; value unimportant */
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ttl),
	};
	UNIT_MAIN(tests);
}
