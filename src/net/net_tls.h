/*
 * net_tls.h - OpenSSL 3 contexts for the SMTP server and client.
 *
 * TLS 1.2 is the minimum in both directions. The client context trusts
 * ca_file (empty: the system's default store) and verifies the server's
 * chain without failing the handshake: the outcome is read afterwards, so
 * opportunistic levels go on and the verify level refuses.
 */
#ifndef NET_NET_TLS_H
#define NET_NET_TLS_H

#include <stddef.h>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

/* Returns a server context, or NULL with a message in err. */
SSL_CTX *net_tls_server_ctx(const char *cert_file, const char *key_file, char *err, size_t errlen);
SSL_CTX *net_tls_client_ctx(const char *ca_file, char *err, size_t errlen);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" style summary for logs/Received. */
void net_tls_describe(SSL *ssl, char *out, size_t size);
/* Last OpenSSL error as text (drains the error queue). */
void net_tls_error(char *out, size_t size);

#endif
