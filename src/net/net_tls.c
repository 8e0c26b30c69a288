/*
 * net_tls.c - OpenSSL context setup.
 */
#include "net/net_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>

void net_tls_error(char *out, size_t size)
{
	unsigned long e = ERR_get_error();
	if (!e) {
		snprintf(out, size, "unknown TLS error");
		return;
	}
	ERR_error_string_n(e, out, size);
	ERR_clear_error();
}

SSL_CTX *net_tls_server_ctx(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"mxgate", 6);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
		goto fail;
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1)
		goto fail;
	if (SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	return ctx;
fail:;
	char e[256];
	net_tls_error(e, sizeof e);
	snprintf(err, errlen, "%s", e);
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *net_tls_client_ctx(const char *ca_file, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		net_tls_error(err, errlen);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	/* the chain is checked, but the handshake never stops for it: the
	 * caller reads SSL_get_verify_result() and decides per level */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	int ok = ca_file && ca_file[0] ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
				       : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		char e[256];
		net_tls_error(e, sizeof e);
		snprintf(err, errlen, "CA file %s: %s", ca_file && ca_file[0] ? ca_file : "(system default)", e);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

void net_tls_describe(SSL *ssl, char *out, size_t size)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	snprintf(out, size, "%s %s", SSL_get_version(ssl), c ? SSL_CIPHER_get_name(c) : "none");
}
