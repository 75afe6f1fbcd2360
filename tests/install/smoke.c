/* check-install (tests/install/check.sh): built against the installed copy with
 * `pkg-config --static --cflags --libs vellum`; seals and opens once. */
#include <stdio.h>
#include <string.h>

#include <vellum.h>

int main(void)
{
    static const uint8_t key[32] = {1}, nonce[12] = {2};
    uint8_t ct[64], pt[64];
    size_t ct_len = 0, pt_len = 0;
    vl_aead_key k;
    if (vl_aead_init(&k, VL_AES256_GCM, key, sizeof key) != VL_OK)
        return 1;
    if (vl_aead_seal(&k, ct, &ct_len, sizeof ct, nonce, 12, (const uint8_t *)"installed", 9,
                     NULL, 0) != VL_OK ||
        vl_aead_open(&k, pt, &pt_len, sizeof pt, nonce, 12, ct, ct_len, NULL, 0) != VL_OK ||
        pt_len != 9 || memcmp(pt, "installed", 9) != 0)
        return 1;
    printf("installed vellum %s works (path %s)\n", vl_version(), vl_aead_impl(&k));
    vl_aead_wipe(&k);
    return 0;
}
