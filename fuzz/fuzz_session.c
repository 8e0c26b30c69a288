/*
 * fuzz_session.c - libFuzzer target that drives the real SMTP server engine
 * (smtp/), as Dovecot's lib-smtp fuzzers do: bytes from the fuzzer arrive
 * on one end of a socketpair whose other end is an smtp session, with the
 * real verb table, pipelining, DATA/BDAT codecs, limits and replies.
 *
 * Input: byte 0 picks the configuration (small or default limits, strict
 * envelopes, bare-newline policy, whether the policy answers DATA at once
 * from inside the hook or from the loop later); byte 1 picks the chunk size
 * for writing; the rest is the client's byte stream. The policy accepts
 * MAIL, refuses RCPT to addresses containing "deny", stores content in
 * memory. Checks: every reply line the server writes is "ddd" + ' ' or '-'
 * + text + CRLF with ddd in 200..599; content handed to data_close is
 * CRLF-clean when bare newlines are forbidden, and within the size limit;
 * sessions always end (bounded loop) without leaks (ASan).
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "fuzz.h"
#include "smtp/smtp_server.h"

struct sink {
	struct buf b;
};

static struct event_base *base;
static struct smtp_server *srv_small, *srv_big;
static struct smtp_server *srv;
static bool answer_in_hook;
static bool forbid_bare;
static uint64_t size_limit;
static int sessions;

static enum smtp_hook on_connect(void *ctx, const struct smtp_client_info *ci, struct mail_reply *r)
{
	(void)ctx;
	(void)ci;
	(void)r;
	sessions++;
	return SMTP_HOOK_DONE;
}

static enum smtp_hook on_mail(void *ctx, const struct smtp_client_info *ci, const struct mail_from *f,
			      struct mail_reply *r)
{
	(void)ctx;
	(void)ci;
	FUZZ_CHECK(f->addr.null || f->addr.local[0]);
	mail_reply_set(r, 250, "2.1.0", "Ok");
	return SMTP_HOOK_DONE;
}

static enum smtp_hook on_rcpt(void *ctx, const struct smtp_client_info *ci, const struct mail_from *f,
			      const struct mail_rcpt_to *to, struct mail_reply *r)
{
	(void)ctx;
	(void)ci;
	(void)f;
	FUZZ_CHECK(!to->addr.null);
	if (strstr(to->addr.local, "deny"))
		mail_reply_set(r, 554, "5.7.1", "denied");
	else
		mail_reply_set(r, 250, "2.1.5", "Ok");
	return SMTP_HOOK_DONE;
}

static void *data_open(void *ctx, const struct smtp_client_info *ci, char id[32], struct mail_reply *r)
{
	(void)ctx;
	(void)ci;
	(void)r;
	snprintf(id, 32, "FUZZ");
	struct sink *s = xcalloc(1, sizeof *s);
	buf_init(&s->b);
	return s;
}

static int data_write(void *ctx, void *sink, const void *p, size_t n)
{
	(void)ctx;
	struct sink *s = sink;
	buf_append(&s->b, p, n);
	return 0;
}

static void data_abort(void *ctx, void *sink)
{
	(void)ctx;
	struct sink *s = sink;
	buf_fini(&s->b);
	xfree(s);
}

struct later {
	uint64_t id;
};

static void answer_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct later *l = arg;
	struct mail_reply r;
	mail_reply_set(&r, 250, "2.0.0", "Ok: queued");
	smtp_server_resume(srv, l->id, &r); /* the session may be gone: dropped */
	xfree(l);
}

static void data_close(void *ctx, const struct smtp_client_info *ci, const struct smtp_tx *tx, void *sink)
{
	(void)ctx;
	struct sink *s = sink;
	FUZZ_CHECK(tx->nrcpt > 0);
	if (forbid_bare) {
		/* the spool only ever holds CRLF lines */
		for (size_t i = 0; i < s->b.len; i++) {
			if (s->b.data[i] == '\n')
				FUZZ_CHECK(i > 0 && s->b.data[i - 1] == '\r');
			if (s->b.data[i] == '\r' && i + 1 < s->b.len)
				FUZZ_CHECK(s->b.data[i + 1] == '\n');
		}
	}
	FUZZ_CHECK(tx->octets == s->b.len);
	if (size_limit)
		FUZZ_CHECK(s->b.len <= size_limit + 4096); /* + our Received: field */
	data_abort(NULL, s);
	if (answer_in_hook) {
		struct mail_reply r;
		mail_reply_set(&r, 250, "2.0.0", "Ok: queued");
		smtp_server_resume(srv, ci->session_id, &r);
	} else {
		struct later *l = xcalloc(1, sizeof *l);
		l->id = ci->session_id;
		struct timeval zero = { 0, 0 };
		event_base_once(base, -1, EV_TIMEOUT, answer_later, l, &zero);
	}
}

static void on_disconnect(void *ctx, const struct smtp_client_info *ci)
{
	(void)ctx;
	(void)ci;
	sessions--;
}

static struct smtp_server *make_server(bool small, bool forbid)
{
	struct smtp_server_conf c = {
		.hostname = "fuzz.test",
		.banner = "fuzz.test ESMTP",
		.size_limit = small ? 2000 : 10240000,
		.rcpt_limit = small ? 3 : 1000,
		.timeout_s = 300,
		.session_time_limit_s = 3600,
		.per_ip_limit = 1000,
		.session_limit = 1000,
		.hard_error_limit = small ? 5 : 1000,
		.cmd_line_limit = 512,
		.data_line_limit = small ? 100 : 1000,
		.hop_limit = small ? 2 : 100,
		.forbid_bare_newline = forbid,
		.strict_envelopes = small,
	};
	struct smtp_policy p = {
		.on_connect = on_connect,
		.on_mail = on_mail,
		.on_rcpt = on_rcpt,
		.data_open = data_open,
		.data_write = data_write,
		.data_abort = data_abort,
		.data_close = data_close,
		.on_disconnect = on_disconnect,
	};
	return smtp_server_new(base, &c, &p);
}

/* Read what the server wrote and check each complete line. */
static void drain(int fd, struct buf *acc)
{
	char tmp[65536];
	for (;;) {
		ssize_t n = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
		if (n <= 0)
			break;
		buf_append(acc, tmp, (size_t)n);
	}
	char *nl;
	while ((nl = memchr(acc->data, '\n', acc->len)) != NULL) {
		size_t l = (size_t)(nl - acc->data) + 1;
		FUZZ_CHECK(l >= 6 && acc->data[l - 2] == '\r');
		FUZZ_CHECK(acc->data[3] == ' ' || acc->data[3] == '-');
		int code = (acc->data[0] - '0') * 100 + (acc->data[1] - '0') * 10 + (acc->data[2] - '0');
		FUZZ_CHECK(code >= 200 && code <= 599);
		for (size_t i = 0; i + 2 < l; i++)
			FUZZ_CHECK(acc->data[i] != '\r' && acc->data[i] != '\n');
		buf_consume(acc, l);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!base) {
		log_init("fuzz", -1, LOG_L_ERR);
		base = event_base_new();
		srv_small = make_server(true, true);
		srv_big = make_server(false, false);
	}
	if (size < 2)
		return 0;
	uint8_t cfg = data[0];
	size_t chunk = (size_t)(data[1] % 64) + 1;
	data += 2;
	size -= 2;
	bool small = cfg & 1;
	srv = small ? srv_small : srv_big;
	forbid_bare = small;
	size_limit = small ? 2000 : 10240000;
	answer_in_hook = cfg & 2;

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	int big = 1 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	struct net_addr peer;
	net_addr_parse("127.0.0.1:12345", -1, &peer);
	smtp_server_adopt(srv, sv[0], &peer);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	struct buf acc;
	buf_init(&acc);
	size_t off = 0;
	for (int guard = 0; guard < 100000 && off < size; guard++) {
		size_t n = size - off < chunk ? size - off : chunk;
		ssize_t w = send(sv[1], data + off, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0)
			off += (size_t)w;
		else if (w < 0 && errno != EAGAIN)
			break;
		event_base_loop(base, EVLOOP_NONBLOCK);
		drain(sv[1], &acc);
	}
	shutdown(sv[1], SHUT_WR);
	for (int guard = 0; guard < 1000 && sessions > 0; guard++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		drain(sv[1], &acc);
	}
	FUZZ_CHECK(sessions == 0);
	/* answers scheduled for sessions that have gone are dropped */
	event_base_loop(base, EVLOOP_NONBLOCK);
	close(sv[1]);
	buf_fini(&acc);
	return 0;
}
