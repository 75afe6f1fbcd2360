#include <stdio.h>
#include <vellum.h>

int main(void) /* README.md's example; make check-install builds it against an installed copy */
{
    vl_store *store;
    vl_kms *kms;
    vl_keyring *kr;
    uint8_t ct[128], pt[128];
    size_t ct_len = 0, pt_len = 0;
    vl_store_mem_new(&store);                  /* or vl_store_sqlite_open(&store, "keys.db") */
    vl_kms_local_new(&kms, "demo-secret", 11); /* tests and demos only: use pkcs11 or kmip */
    vl_keyring_new(&kr, &(vl_keyring_config){.store = store});
    vl_keyring_register_kms(kr, "local-kms", kms);
    vl_kek_create(kr, "kek1", "local-kms", "kek1", 0, "my first KEK");
    int rc = vl_field_encrypt(kr, "kek1", "orders-value", VL_AES256_GCM,
                              (const uint8_t *)"4111-1111", 9, ct, sizeof ct, &ct_len);
    if (rc == VL_OK) /* the DEK was made, wrapped through the KMS and stored wrapped */
        rc = vl_field_decrypt(kr, "kek1", "orders-value", VL_AES256_GCM, ct, ct_len, pt,
                              sizeof pt, &pt_len);
    printf("%s: %zu-byte field, plaintext %.*s\n", vl_strerror(rc), ct_len, (int)pt_len, pt);
    vl_keyring_free(kr); /* wipes every cached DEK */
    vl_kms_close(kms);
    vl_store_close(store);
    return rc != VL_OK;
}
