/* Produces srtp_libsrtp_vectors.txt (read by srtp.rs): libsrtp protecting RTP across a sequence wrap, and
 * SRTCP, for suites and MKIs its own validation vectors do not cover.
 * Build and run: gcc -o gen srtp_libsrtp_vectors.c -lsrtp2 && ./gen > srtp_libsrtp_vectors.txt (libsrtp2-dev). */
#include <srtp2/srtp.h>
#include <stdio.h>
#include <string.h>
static void hex(const unsigned char *b, int n) { for (int i = 0; i < n; i++) printf("%02x", b[i]); }
typedef void (*setter)(srtp_crypto_policy_t *);
static int run(const char *name, setter rtp, setter rtcp, int keylen, int mki) {
    unsigned char key[64]; for (int i = 0; i < keylen; i++) key[i] = (unsigned char)(i * 7 + 1);
    unsigned char mki_id[4] = {0, 0, 0, 1};
    srtp_master_key_t mk = { key, mki_id, 4 };
    srtp_master_key_t *mks[1] = { &mk };
    srtp_policy_t p; memset(&p, 0, sizeof p);
    rtp(&p.rtp); rtcp(&p.rtcp);
    p.ssrc.type = ssrc_specific; p.ssrc.value = 0xcafebabe; p.window_size = 128;
    if (mki) { p.keys = mks; p.num_master_keys = 1; } else { p.key = key; }
    srtp_t s; int st = srtp_create(&s, &p); if (st) { fprintf(stderr, "%s create %d\n", name, st); return 1; }
    printf("suite %s key ", name); hex(key, keylen); printf(" mki %d\n", mki);
    for (int k = 0; k < 6; k++) {
        unsigned short seq = (unsigned short)(65533 + k);
        unsigned char b[128] = {0x80, 0x00, seq >> 8, seq & 0xff, 0, 0, (k * 160) >> 8, (k * 160) & 0xff, 0xca, 0xfe, 0xba, 0xbe};
        for (int i = 12; i < 12 + 20; i++) b[i] = (unsigned char)(i + k);
        int len = 32;
        printf("rtp "); hex(b, len); printf(" ");
        st = mki ? srtp_protect_mki(s, b, &len, 1, 0) : srtp_protect(s, b, &len);
        if (st) { fprintf(stderr, "%s protect %d\n", name, st); return 1; }
        hex(b, len); printf("\n");
    }
    for (int k = 0; k < 2; k++) {
        unsigned char b[128] = {0x81, 0xc9, 0x00, 0x07, 0xca, 0xfe, 0xba, 0xbe};
        for (int i = 8; i < 32; i++) b[i] = (unsigned char)(i * 3 + k);
        int len = 32;
        printf("rtcp "); hex(b, len); printf(" ");
        st = mki ? srtp_protect_rtcp_mki(s, b, &len, 1, 0) : srtp_protect_rtcp(s, b, &len);
        if (st) { fprintf(stderr, "%s rtcp %d\n", name, st); return 1; }
        hex(b, len); printf("\n");
    }
    srtp_dealloc(s);
    return 0;
}
int main(void) {
    srtp_init();
    printf("libsrtp %s\n", srtp_get_version_string());
    run("AES_CM_128_HMAC_SHA1_32", srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32, srtp_crypto_policy_set_rtp_default, 30, 0);
    run("AES_CM_128_HMAC_SHA1_80", srtp_crypto_policy_set_rtp_default, srtp_crypto_policy_set_rtp_default, 30, 1);
    run("AES_256_CM_HMAC_SHA1_32", srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32, srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80, 46, 0);
    run("AEAD_AES_128_GCM", srtp_crypto_policy_set_aes_gcm_128_16_auth, srtp_crypto_policy_set_aes_gcm_128_16_auth, 28, 0);
    run("AEAD_AES_256_GCM", srtp_crypto_policy_set_aes_gcm_256_16_auth, srtp_crypto_policy_set_aes_gcm_256_16_auth, 44, 1);
    return 0;
}
