// OpenSSL's libcrypto, only for the DES step of VNC authentication (RFC 6143 §7.2.2).
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/des.h>

// One DES-ECB block with an 8-byte key, so Swift never handles DES_cblock tuples or key schedules.
static inline void copenssl_des_ecb_encrypt(const unsigned char key[8], const unsigned char in[8],
                                            unsigned char out[8]) {
    DES_cblock keyBlock;
    DES_key_schedule schedule;
    for (int i = 0; i < 8; i++) keyBlock[i] = key[i];
    DES_set_key_unchecked(&keyBlock, &schedule);
    DES_ecb_encrypt((const_DES_cblock *)in, (DES_cblock *)out, &schedule, DES_ENCRYPT);
}
